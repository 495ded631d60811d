using System.Diagnostics;

namespace Spawnlab.Host;

/// <summary>Runs a command on the caller's own terminal: its stdin, stdout and stderr are the caller's, not pipes.</summary>
public static class AttachedProcess
{
    public static async Task<int> RunAsync(HostCommand command, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(command.Program) { UseShellExecute = false };
        foreach (var argument in command.Arguments)
            info.ArgumentList.Add(argument);
        foreach (var (name, value) in command.Environment)
            info.Environment[name] = value;
        using var process = Process.Start(info) ?? throw new SpawnlabException($"cannot start {command.Program}");
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The terminal's Ctrl-C reached the command too; give it a moment to end on its own.
            if (!process.WaitForExit(TimeSpan.FromSeconds(2)))
                process.Kill(entireProcessTree: true);
            throw;
        }
        return process.ExitCode;
    }
}
