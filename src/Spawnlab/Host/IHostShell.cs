namespace Spawnlab.Host;

/// <summary>The one way the library runs programs on the host; tests replace it with a fake.</summary>
public interface IHostShell
{
    Task<HostResult> RunAsync(HostCommand command, CancellationToken cancellationToken);
}

public static class HostShellExtensions
{
    /// <summary>Runs the command and returns its standard output, trimmed.</summary>
    public static async Task<string> OutputAsync(this IHostShell shell, HostCommand command, CancellationToken cancellationToken) =>
        (await shell.RunAsync(command, cancellationToken)).StandardOutput.Trim();

    public static Task<HostResult> RunAsync(this IHostShell shell, string program, IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        shell.RunAsync(HostCommand.Of(program, arguments), cancellationToken);
}
