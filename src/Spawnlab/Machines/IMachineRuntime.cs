using Spawnlab.Host;
using Spawnlab.State;

namespace Spawnlab.Machines;

/// <summary>
/// What a machine is to the lifecycle: something that boots from its root in the pool, becomes ready, is entered to
/// run commands, and stops, and whose host objects are recorded in the lab's state. Up, down, restore, rollback and the
/// scheduler know machines only through this; <see cref="NspawnRuntime"/> runs them as systemd-nspawn containers.
/// </summary>
public interface IMachineRuntime
{
    /// <summary>Whether the machine runs, runs without its supervisor (orphaned), or is stopped.</summary>
    MachineRunState RunState(MachineState machine);

    /// <summary>How to enter the machine while it runs; null when it does not.</summary>
    MachineSession? SessionOf(MachineState machine);

    /// <summary>Boots the machine unless it runs already, and waits until it is ready.</summary>
    Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken);

    /// <summary>
    /// Stops the process that runs a machine: asks it to shut down, then kills it past <paramref name="timeout"/>.
    /// A zero timeout kills at once: for a machine whose root is about to be thrown away.
    /// </summary>
    Task StopAsync(HostProcess process, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>The processes that run machines of a lab, recorded or not, with the machine each runs.</summary>
    IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab);

    /// <summary>The machine a process runs, if it runs one of lab <paramref name="lab"/>, from its command line.</summary>
    string? MachineOf(IReadOnlyList<string> arguments, string lab);
}

/// <summary>
/// What a boot needs from the lifecycle: the state to record into, the machine, how long it may take, how to put its
/// interfaces in place (given its PID 1 when its network namespace is made with it) and where to say what it does.
/// </summary>
public sealed record MachineBoot(
    StateJournal Journal,
    MachineState Machine,
    TimeSpan Timeout,
    Func<int?, CancellationToken, Task> WireAsync,
    Action<MachineStep> Report);

/// <summary>A running machine, as commands reach it.</summary>
public abstract record MachineSession(string Machine)
{
    /// <summary>A command run inside the machine as root, with a clean environment.</summary>
    public abstract HostCommand Enter(IEnumerable<string> command);

    /// <summary>What the machine's console printed since it booted: a VM's serial console, a container's boot log.</summary>
    public abstract string Console();

    /// <summary>Types text on the machine's console.</summary>
    public virtual Task TypeAsync(string text, CancellationToken cancellationToken) =>
        throw new SpawnlabException($"machine {Machine}'s console takes no input");

    /// <summary>
    /// Runs a command inside the machine: its standard input from text or a file, its output appended to a log file
    /// when one is given (else returned), its exit code returned, or thrown as a <see cref="HostCommandException"/>.
    /// </summary>
    public virtual Task<HostResult> RunAsync(IHostShell shell, MachineCommand command, CancellationToken cancellationToken)
    {
        var host = Enter(command.Arguments);
        host = command.StandardInputFile is { } file ? host.WithStandardInputFile(file) : host.WithStandardInput(command.StandardInput ?? "");
        if (command.LogFile is { } log)
            host = host.LoggedTo(log);
        return shell.RunAsync(command.ThrowOnFailure ? host : host.WithoutThrowing(), cancellationToken);
    }

    /// <summary>A tar archive of <paramref name="machinePath"/>, made inside the machine, written to <paramref name="archive"/> on the host.</summary>
    public virtual async Task ReadArchiveAsync(IHostShell shell, string machinePath, string archive, CancellationToken cancellationToken)
    {
        var tar = Enter(["/bin/sh", "-c", TarOf, "sh", machinePath]);
        await shell.RunAsync(HostCommand.Of("sh", ["-c", "f=$1; shift; exec \"$@\" > \"$f\"", "sh", archive, tar.Program, .. tar.Arguments]) with
        {
            Environment = tar.Environment,
            StandardInput = "",
        }, cancellationToken);
    }

    /// <summary>sh code that writes a tar archive of "$1" (its last name as the archive's one entry) to its standard output.</summary>
    protected const string TarOf = "cd \"$(dirname \"$1\")\" && tar -cf - \"$(basename \"$1\")\"";

    /// <summary>Whether the machine's root is a folder of the host (a container's) that a host script may write into.</summary>
    public virtual bool RootOnHost => true;

    /// <summary>Makes what the machine wrote safe to snapshot (its writes flushed to its root); nothing to do for a container.</summary>
    public virtual Task SettleAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>A command to run inside a machine, with where its input comes from and where its output goes.</summary>
public sealed record MachineCommand(IReadOnlyList<string> Arguments)
{
    public string? StandardInput { get; init; }

    public string? StandardInputFile { get; init; }

    public string? LogFile { get; init; }

    public bool ThrowOnFailure { get; init; } = true;
}

/// <summary>Containers by systemd-nspawn and VMs by QEMU, each machine to the runtime of its kind.</summary>
public sealed class MachineRuntimes(IHost host, IMachineRuntime containers, IMachineRuntime vms) : IMachineRuntime
{
    public MachineRuntimes(IHost host)
        : this(host, new NspawnRuntime(host), new QemuRuntime(host))
    {
    }

    /// <summary>Instances of a lab on an LXD daemon: the daemon runs them, not this host's processes.</summary>
    private readonly Lxd.LxdRuntime _lxd = new(host.Shell);

    private IMachineRuntime For(MachineState machine) => machine.Lxd is not null ? _lxd : machine.Kind == Labs.MachineKind.Vm ? vms : containers;

    public MachineRunState RunState(MachineState machine) => For(machine).RunState(machine);

    public MachineSession? SessionOf(MachineState machine) => For(machine).SessionOf(machine);

    public Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken) => For(boot.Machine).BootAsync(boot, cancellationToken);

    public Task StopAsync(HostProcess process, TimeSpan timeout, CancellationToken cancellationToken) =>
        host.Processes.Arguments(process) is [var program, ..] && Path.GetFileName(program) == QemuArguments.Program
            ? vms.StopAsync(process, timeout, cancellationToken)
            : containers.StopAsync(process, timeout, cancellationToken);

    public IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab) => [.. containers.RunningOf(lab), .. vms.RunningOf(lab)];

    public string? MachineOf(IReadOnlyList<string> arguments, string lab) => containers.MachineOf(arguments, lab) ?? vms.MachineOf(arguments, lab);
}

/// <summary>Whether a machine runs: its supervisor lives, or only its processes do (it was killed alone), or neither.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<MachineRunState>))]
public enum MachineRunState
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("running")]
    Running,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("orphaned")]
    Orphaned,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("stopped")]
    Stopped,

    /// <summary>A machine of a lab file whose lab is not up (graph FILE).</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("not up")]
    NotUp,
}

public static class MachineRunStates
{
    /// <summary>The state as ls and graph print it.</summary>
    public static string Text(this MachineRunState state) => state == MachineRunState.NotUp ? "not up" : state.ToString().ToLowerInvariant();
}
