using System.Globalization;

namespace Spawnlab.Host;

/// <summary>Starts a long-lived process in a session of its own, so that it outlives the CLI, with its output in a capped log file.</summary>
public static class DetachedProcess
{
    public static async Task<HostProcess> StartAsync(IHostShell shell, string program, IReadOnlyList<string> arguments, string logFile, CancellationToken cancellationToken)
    {
        // A background job of a non-interactive shell is not a process group leader, so setsid does not fork:
        // $! is the pid of the program itself.
        var output = await shell.OutputAsync(
            HostCommand.Of("sh", ["-c", "exec 3>&1; " + CappedLog.Redirect() + "setsid \"$@\" </dev/null 3>&- & echo $! >&3", logFile, program, .. arguments]),
            cancellationToken);
        var pid = int.Parse(output, CultureInfo.InvariantCulture);
        return HostProcess.Find(pid) ?? throw new SpawnlabException($"{program} exited at once; see {logFile}");
    }
}
