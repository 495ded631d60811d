namespace Spawnlab;

/// <summary>An error meant for the user: the CLI prints its message on one line and exits with <see cref="ExitCode"/>.</summary>
public class SpawnlabException(string message, int exitCode = 1, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
