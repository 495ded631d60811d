using System.Globalization;
using Spawnlab.Host;
using Spawnlab.State;

namespace Spawnlab.Machines;

/// <summary>
/// Machines as systemd-nspawn containers: nspawn is started detached in the machine's cgroups, its PID 1 is found as
/// its child in a new PID namespace, and commands enter the machine through nsenter.
/// </summary>
public sealed class NspawnRuntime(IHost host) : IMachineRuntime
{
    public static readonly string[] ExecEnvironment =
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "USER=root", "LOGNAME=root"];

    // Moves the shell into each cgroup named before "--", then becomes the command after it.
    private const string JoinCgroupsThenExec = "while [ \"$1\" != -- ]; do echo $$ > \"$1/cgroup.procs\" || exit 1; shift; done; shift; exec \"$@\"";

    // Run by systemd-run in the machine's new scope: makes the payload child of each cgroup named before "--" (the
    // first one frozen when $1 says so), then becomes the command after it.
    private const string MakePayloadThenExec =
        "freeze=$1; shift; first=$1; while [ \"$1\" != -- ]; do mkdir -p \"$1/payload\" || exit 1; shift; done; shift; "
        + "if [ \"$freeze\" = 1 ]; then echo 1 > \"$first/payload/cgroup.freeze\" || exit 1; fi; exec \"$@\"";

    public MachineRunState RunState(MachineState machine) =>
        host.Processes.IsRunning(machine.Process) ? MachineRunState.Running
        : host.Cgroups.IsPopulated(machine.Cgroups) ? MachineRunState.Orphaned
        : MachineRunState.Stopped;

    public MachineSession? SessionOf(MachineState machine) =>
        machine.Process is { } process && Leader(process) is { } leader ? new NspawnSession(machine.Name, leader, machine.LogFile) : null;

    /// <summary>
    /// A machine with a user namespace starts frozen in cgroups of its own, is wired as soon as its PID 1 exists, and
    /// is then thawed. The others are wired before they boot.
    /// </summary>
    public async Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken)
    {
        var (journal, state) = (boot.Journal, boot.Machine);
        if (host.Processes.IsRunning(state.Process))
        {
            if (!host.Cgroups.IsFrozen(state.Cgroups))
                return await WaitUntilReadyAsync(state, state.Process!, boot.Timeout, cancellationToken);
            // A CLI killed between the start of the machine and its wiring left it frozen before it ran anything.
            boot.Report(new MachineStep.Restarting());
            await StopAsync(state.Process!, TimeSpan.Zero, cancellationToken);
        }
        boot.Report(new MachineStep.Booting());
        Directory.CreateDirectory(Path.GetDirectoryName(state.LogFile)!);
        File.AppendAllText(state.LogFile, $"--- {DateTimeOffset.Now:O} systemd-nspawn {string.Join(' ', state.NspawnArguments)}{Environment.NewLine}");
        foreach (var cgroup in state.Cgroups)
        {
            var obj = new HostObject(HostObjectKind.Cgroup, cgroup);
            if (!journal.Has(obj) && host.Cgroups.Exists(cgroup))
                throw new SpawnlabException(StateJournal.LeftBehind(journal.State.Lab, $"cgroup {cgroup}"));
            // The cgroups of an earlier boot go first, with what systemd inside made in them.
            await host.Cgroups.RemoveAsync(cgroup, cancellationToken);
            journal.Record(obj);
        }
        // Only a machine whose network nspawn makes waits frozen for its wiring; the others' is in place already.
        if (!InScope(state))
            host.Cgroups.Create(state.Cgroups, frozen: state.PrivateUsers);
        // nspawn says READY=1 here once systemd inside has started up: no asking, no polling.
        using var notify = NotifySocket.TryBind(state.Namespace);
        var process = await SpawnAsync(state, notify?.Path, cancellationToken);
        journal.Update(_ =>
        {
            state.Pid = process.Pid;
            state.StartTicks = process.StartTicks;
        });
        if (state.PrivateUsers)
        {
            var leader = await WaitForLeaderAsync(state, process, boot.Timeout, cancellationToken);
            await boot.WireAsync(leader, cancellationToken);
            host.Cgroups.Thaw(state.Cgroups);
        }
        boot.Report(new MachineStep.Starting());
        if (notify is not null && await notify.WaitReadyAsync(() => host.Processes.IsAlive(process), boot.Timeout, cancellationToken)
            && Leader(process) is { } started)
            return new NspawnSession(state.Name, started, state.LogFile);
        // No word from nspawn (it died, or the time is up): asking systemd inside says why, or that it is ready after all.
        return await WaitUntilReadyAsync(state, process, notify is null ? boot.Timeout : TimeSpan.FromSeconds(2), cancellationToken);
    }

    /// <summary>
    /// Starts systemd-nspawn detached, in the machine's cgroups when it has any, with its output going to its boot log;
    /// with a <paramref name="notifySocket"/>, nspawn says there when systemd inside has started up. On a systemd host
    /// the machine's cgroup is a transient scope that systemd-run makes and then becomes nspawn in, so the pid is
    /// nspawn's either way.
    /// </summary>
    private Task<HostProcess> SpawnAsync(MachineState state, string? notifySocket, CancellationToken cancellationToken)
    {
        string[] nspawn = notifySocket is null
            ? ["systemd-nspawn", .. state.NspawnArguments]
            : ["env", $"NOTIFY_SOCKET={notifySocket}", "systemd-nspawn", "--notify-ready=yes", .. state.NspawnArguments];
        if (InScope(state))
        {
            string[] scope =
            [
                "--quiet", "--scope", $"--unit={MachineCgroup.ScopeOf(state.Cgroups[0])}", $"--slice={MachineCgroup.MachineSlice}",
                "--collect", "--property=Delegate=yes", $"--description=Spawnlab machine {state.Name}",
            ];
            return host.Processes.StartDetachedAsync("systemd-run",
                [.. scope, "--", "sh", "-c", MakePayloadThenExec, "sh", state.PrivateUsers ? "1" : "0", .. state.Cgroups, "--", .. nspawn],
                state.LogFile, cancellationToken);
        }
        return state.Cgroups.Count == 0
            ? host.Processes.StartDetachedAsync(nspawn[0], nspawn[1..], state.LogFile, cancellationToken)
            : host.Processes.StartDetachedAsync("sh", ["-c", JoinCgroupsThenExec, "sh", .. state.Cgroups, "--", .. nspawn], state.LogFile, cancellationToken);
    }

    /// <summary>Whether the machine runs in a systemd scope of its own (on a host where systemd is PID 1).</summary>
    private static bool InScope(MachineState state) => state.Cgroups.Count > 0 && MachineCgroup.ScopeOf(state.Cgroups[0]) is not null;

    /// <summary>
    /// Waits for the machine's PID 1 to exist in a network namespace of its own (nspawn makes both at once), which
    /// comes before it runs anything of the machine; returns it.
    /// </summary>
    private async Task<int> WaitForLeaderAsync(MachineState state, HostProcess nspawn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var hostNetwork = host.Processes.NamespaceOf(null, "net");
        var found = 0;
        bool Started()
        {
            if (Leader(nspawn) is { } leader && host.Processes.NamespaceOf(leader, "net") is { } network && network != hostNetwork)
            {
                found = leader;
                return true;
            }
            return host.Processes.IsAlive(nspawn)
                ? false
                : throw new SpawnlabException($"machine {state.Name} stopped while starting; its log ends with:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}");
        }
        if (!await Poll.UntilAsync(Started, timeout, TimeSpan.FromMilliseconds(5), cancellationToken))
            throw new SpawnlabException($"machine {state.Name} had no PID 1 after {timeout.TotalSeconds:0} s; its log ends with:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}");
        return found;
    }

    /// <summary>
    /// The machine an nspawn runs, from its command line (--machine=MACHINE.LAB), if it runs one of lab
    /// <paramref name="lab"/>: a machine's name has no '.', so MACHINE.LAB names that lab alone.
    /// </summary>
    public string? MachineOf(IReadOnlyList<string> arguments, string lab) => MachineOfArguments(arguments, lab);

    /// <inheritdoc cref="MachineOf"/>
    public static string? MachineOfArguments(IReadOnlyList<string> arguments, string lab)
    {
        if (arguments.Count == 0 || Path.GetFileName(arguments[0]) != "systemd-nspawn")
            return null;
        var unit = arguments.FirstOrDefault(a => a.StartsWith("--machine=", StringComparison.Ordinal))?["--machine=".Length..];
        return unit is not null && unit.IndexOf('.') is var dot and > 0 && unit[(dot + 1)..] == lab ? unit[..dot] : null;
    }

    public IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab) =>
        [.. host.Processes.Matching(arguments => MachineOfArguments(arguments, lab) is not null)
            .Select(p => (Machine: MachineOfArguments(host.Processes.Arguments(p), lab)!, Process: p)).Where(m => m.Machine is not null)];

    /// <summary>The machine's PID 1 as the host sees it: the child of systemd-nspawn that lives in a new PID namespace.</summary>
    private int? Leader(HostProcess nspawn)
    {
        if (!host.Processes.IsAlive(nspawn))
            return null;
        var own = host.Processes.NamespaceOf(null, "pid");
        foreach (var child in host.Processes.Children(nspawn))
        {
            if (host.Processes.NamespaceOf(child, "pid") is { } theirs && theirs != own)
                return child;
        }
        return null;
    }

    /// <summary>
    /// Waits until systemd inside says the machine is running or degraded. Past the timeout, or if the machine dies,
    /// fails with the tail of the machine's boot log.
    /// </summary>
    private async Task<MachineSession> WaitUntilReadyAsync(MachineState state, HostProcess nspawn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var lastState = "starting";
        var ready = 0;
        async Task<bool> Ready(CancellationToken token)
        {
            if (!host.Processes.IsAlive(nspawn))
                throw new SpawnlabException($"machine {state.Name} stopped while booting; its log ends with:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}");
            // systemctl talks to systemd over /run/systemd/private; until that socket exists, asking costs a process
            // spawn per try for nothing (with many machines booting, a good part of the CPU).
            if (Leader(nspawn) is not { } leader || !File.Exists(LinuxHost.SystemdBusOf(leader)))
                return false;
            var result = await host.Shell.RunAsync(Enter(leader, ["systemctl", "is-system-running", "--wait"]).WithoutThrowing(), token);
            lastState = result.StandardOutput.Trim() is { Length: > 0 } said ? said : lastState;
            // "offline" only means systemd inside does not answer on its bus yet.
            if (lastState is "stopping")
                throw new SpawnlabException($"machine {state.Name} is {lastState} instead of booting; its log ends with:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}");
            ready = leader;
            return lastState is "running" or "degraded";
        }
        if (!await Poll.UntilAsync(Ready, timeout, TimeSpan.FromMilliseconds(50), cancellationToken))
        {
            throw new SpawnlabException(
                $"machine {state.Name} was not ready after {timeout.TotalSeconds:0} s (systemd says '{lastState}'); its log ends with:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}");
        }
        return new NspawnSession(state.Name, ready, state.LogFile);
    }

    /// <summary>A command run inside the machine through all of its namespaces, with a clean environment.</summary>
    public static HostCommand Enter(int leader, IEnumerable<string> command) =>
        HostCommand.Of("nsenter", ["--target", leader.ToString(CultureInfo.InvariantCulture), "--all", "--", "env", "-i", .. ExecEnvironment, .. command]);

    /// <summary>
    /// Asks systemd-nspawn to shut the machine down (it turns SIGTERM into a halt of the machine); past the timeout,
    /// kills the machine's PID 1, which takes every process of the machine with it, and nspawn then exits by itself.
    /// </summary>
    public async Task StopAsync(HostProcess nspawn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var processes = host.Processes;
        if (!processes.IsAlive(nspawn))
            return;
        var leader = Leader(nspawn) is { } pid ? processes.Find(pid) : null;
        if (timeout > TimeSpan.Zero)
        {
            processes.Signal(nspawn, HostProcess.SigTerm);
            if (await processes.WaitForExitAsync(nspawn, timeout, cancellationToken))
                return;
        }
        if (leader is not null)
            processes.Signal(leader, HostProcess.SigKill);
        if (await processes.WaitForExitAsync(nspawn, TimeSpan.FromSeconds(5), cancellationToken))
            return;
        processes.Signal(nspawn, HostProcess.SigKill);
        if (!await processes.WaitForExitAsync(nspawn, TimeSpan.FromSeconds(10), cancellationToken))
            throw new SpawnlabException($"systemd-nspawn (pid {nspawn.Pid}) survived SIGKILL");
    }
}

/// <summary>A running nspawn machine, entered through the namespaces of its PID 1; its console is its boot log.</summary>
public sealed record NspawnSession(string Machine, int Leader, string BootLog) : MachineSession(Machine)
{
    public override HostCommand Enter(IEnumerable<string> command) => NspawnRuntime.Enter(Leader, command);

    /// <summary>The boot log since this boot: each boot starts with a line Spawnlab writes before it starts nspawn.</summary>
    public override string Console()
    {
        var log = CappedLog.Read(BootLog);
        var boot = log.LastIndexOf(" systemd-nspawn ", StringComparison.Ordinal);
        return boot < 0 ? log : log[(log.LastIndexOf('\n', boot) + 1)..];
    }
}
