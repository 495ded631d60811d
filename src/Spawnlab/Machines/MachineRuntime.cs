using System.Globalization;
using Spawnlab.Host;

namespace Spawnlab.Machines;

/// <summary>Starts, watches, enters and stops booted machines.</summary>
public sealed class MachineRuntime(IHostShell shell)
{
    public static readonly string[] ExecEnvironment =
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "USER=root", "LOGNAME=root"];

    // Moves the shell into each cgroup named before "--", then becomes the command after it.
    private const string JoinCgroupsThenExec = "while [ \"$1\" != -- ]; do echo $$ > \"$1/cgroup.procs\" || exit 1; shift; done; shift; exec \"$@\"";

    /// <summary>
    /// Starts systemd-nspawn detached, in <paramref name="cgroups"/> when there are any, with its output going to
    /// <paramref name="logFile"/>; returns the nspawn process.
    /// </summary>
    public Task<HostProcess> SpawnDetachedAsync(IReadOnlyList<string> arguments, IReadOnlyList<string> cgroups, string logFile, CancellationToken cancellationToken) =>
        cgroups.Count == 0
            ? DetachedProcess.StartAsync(shell, "systemd-nspawn", arguments, logFile, cancellationToken)
            : DetachedProcess.StartAsync(shell, "sh", ["-c", JoinCgroupsThenExec, "sh", .. cgroups, "--", "systemd-nspawn", .. arguments], logFile, cancellationToken);

    /// <summary>
    /// Waits for the machine's PID 1 to exist in a network namespace of its own (nspawn makes both at once), which
    /// comes before it runs anything of the machine; returns it.
    /// </summary>
    public static async Task<int> WaitForLeaderAsync(string machine, HostProcess nspawn, string logFile, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var hostNetwork = NamespaceOf("self", "net");
        var found = 0;
        bool Started()
        {
            if (Leader(nspawn) is { } leader && NamespaceOf(leader.ToString(CultureInfo.InvariantCulture), "net") is { } network && network != hostNetwork)
            {
                found = leader;
                return true;
            }
            return nspawn.IsAlive
                ? false
                : throw new SpawnlabException($"machine {machine} stopped while starting; its log ends with:{Environment.NewLine}{LogTail(logFile)}");
        }
        if (!await Poll.UntilAsync(Started, timeout, TimeSpan.FromMilliseconds(5), cancellationToken))
            throw new SpawnlabException($"machine {machine} had no PID 1 after {timeout.TotalSeconds:0} s; its log ends with:{Environment.NewLine}{LogTail(logFile)}");
        return found;
    }

    private static string? NamespaceOf(string process, string kind) => HostSystem.NamespaceOf(process, kind);

    /// <summary>
    /// The machine an nspawn runs, from its command line (--machine=MACHINE.LAB), if it runs one of lab
    /// <paramref name="lab"/>: a machine's name has no '.', so MACHINE.LAB names that lab alone.
    /// </summary>
    public static string? MachineOf(IReadOnlyList<string> arguments, string lab)
    {
        if (arguments.Count == 0 || Path.GetFileName(arguments[0]) != "systemd-nspawn")
            return null;
        var unit = arguments.FirstOrDefault(a => a.StartsWith("--machine=", StringComparison.Ordinal))?["--machine=".Length..];
        return unit is not null && unit.IndexOf('.') is var dot and > 0 && unit[(dot + 1)..] == lab ? unit[..dot] : null;
    }

    /// <summary>The nspawns running machines of a lab, with the machine each runs.</summary>
    public static IReadOnlyList<(string Machine, HostProcess Process)> MachinesOf(string lab) =>
        [.. HostProcess.Matching(arguments => MachineOf(arguments, lab) is not null)
            .Select(p => (Machine: MachineOf(p.Arguments(), lab)!, Process: p)).Where(m => m.Machine is not null)];

    /// <summary>The machine's PID 1 as the host sees it: the child of systemd-nspawn that lives in a new PID namespace.</summary>
    public static int? Leader(HostProcess nspawn)
    {
        if (!nspawn.IsAlive)
            return null;
        var own = NamespaceOf("self", "pid");
        foreach (var child in nspawn.Children())
        {
            if (NamespaceOf(child.ToString(CultureInfo.InvariantCulture), "pid") is { } theirs && theirs != own)
                return child;
        }
        return null;
    }

    /// <summary>
    /// Waits until systemd inside says the machine is running or degraded. Past the timeout, or if the machine dies,
    /// fails with the tail of the machine's boot log.
    /// </summary>
    public async Task<int> WaitUntilReadyAsync(string machine, HostProcess nspawn, string logFile, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var lastState = "starting";
        var ready = 0;
        async Task<bool> Ready(CancellationToken token)
        {
            if (!nspawn.IsAlive)
                throw new SpawnlabException($"machine {machine} stopped while booting; its log ends with:{Environment.NewLine}{LogTail(logFile)}");
            // systemctl talks to systemd over /run/systemd/private; until that socket exists, asking costs a process
            // spawn per try for nothing (with many machines booting, a good part of the CPU).
            if (Leader(nspawn) is not { } leader || !File.Exists(HostSystem.SystemdBusOf(leader)))
                return false;
            var result = await shell.RunAsync(Enter(leader, ["systemctl", "is-system-running", "--wait"]).WithoutThrowing(), token);
            lastState = result.StandardOutput.Trim() is { Length: > 0 } state ? state : lastState;
            // "offline" only means systemd inside does not answer on its bus yet.
            if (lastState is "stopping")
                throw new SpawnlabException($"machine {machine} is {lastState} instead of booting; its log ends with:{Environment.NewLine}{LogTail(logFile)}");
            ready = leader;
            return lastState is "running" or "degraded";
        }
        if (!await Poll.UntilAsync(Ready, timeout, TimeSpan.FromMilliseconds(50), cancellationToken))
        {
            throw new SpawnlabException(
                $"machine {machine} was not ready after {timeout.TotalSeconds:0} s (systemd says '{lastState}'); its log ends with:{Environment.NewLine}{LogTail(logFile)}");
        }
        return ready;
    }

    /// <summary>A command run inside the machine through all of its namespaces, with a clean environment.</summary>
    public static HostCommand Enter(int leader, IEnumerable<string> command) =>
        HostCommand.Of("nsenter", ["--target", leader.ToString(CultureInfo.InvariantCulture), "--all", "--", "env", "-i", .. ExecEnvironment, .. command]);

    /// <summary>
    /// Asks systemd-nspawn to shut the machine down (it turns SIGTERM into a halt of the machine); past the timeout,
    /// kills the machine's PID 1, which takes every process of the machine with it, and nspawn then exits by itself.
    /// A zero timeout kills at once: for a machine whose root is about to be thrown away.
    /// </summary>
    public static async Task StopAsync(HostProcess nspawn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!nspawn.IsAlive)
            return;
        var leader = Leader(nspawn) is { } pid ? HostProcess.Find(pid) : null;
        if (timeout > TimeSpan.Zero)
        {
            nspawn.Signal(HostProcess.SigTerm);
            if (await nspawn.WaitForExitAsync(timeout, cancellationToken))
                return;
        }
        leader?.Signal(HostProcess.SigKill);
        if (await nspawn.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken))
            return;
        nspawn.Signal(HostProcess.SigKill);
        if (!await nspawn.WaitForExitAsync(TimeSpan.FromSeconds(10), cancellationToken))
            throw new SpawnlabException($"systemd-nspawn (pid {nspawn.Pid}) survived SIGKILL");
    }

    public static string LogTail(string logFile, int lines = 15)
    {
        try
        {
            var text = CappedLog.Read(logFile).Split('\n').Select(l => StripAnsi(l).TrimEnd()).Where(l => l.Length > 0).TakeLast(lines);
            return string.Join(Environment.NewLine, text.Select(l => "  " + l));
        }
        catch (IOException)
        {
            return "  (no log)";
        }
    }

    private static string StripAnsi(string line) =>
        System.Text.RegularExpressions.Regex.Replace(line, @"\x1b\[[0-9;]*[A-Za-z]", "");
}
