namespace Spawnlab.Host;

/// <summary>An external command failed; carries the command line, its exit code and the tail of its stderr.</summary>
public sealed class HostCommandException(HostCommand command, int exitCode, string standardError)
    : SpawnlabException($"`{command}` failed with exit code {exitCode}{Tail(standardError)}")
{
    public HostCommand Command { get; } = command;
    public int CommandExitCode { get; } = exitCode;
    public string StandardError { get; } = standardError;

    private static string Tail(string stderr) => OutputTail.Of(stderr, 3) is { Length: > 0 } tail ? ": " + tail : "";
}
