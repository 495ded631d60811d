using System.Net.Sockets;
using System.Text;
using Spawnlab.Host;
using Spawnlab.State;

namespace Spawnlab.Machines;

/// <summary>
/// Machines as QEMU virtual machines on the lab's bridges: one tap per network (named as a container's host veth, with
/// the same MAC scheme), a serial console on a socket whose output QEMU logs, QEMU started detached and recorded by pid
/// and start time. A network-booted VM has no agent inside: it is entered by its console only.
/// </summary>
public sealed class QemuRuntime(IHost host) : IMachineRuntime
{
    private readonly IpTool _ip = new(host);

    public MachineRunState RunState(MachineState machine) =>
        host.Processes.IsRunning(machine.Process) ? MachineRunState.Running : MachineRunState.Stopped;

    public MachineSession? SessionOf(MachineState machine) =>
        host.Processes.IsRunning(machine.Process) ? new VmSession(machine.Name, machine.ConsoleLog!, machine.ConsoleSocket!) : null;

    public async Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken)
    {
        var (journal, state) = (boot.Journal, boot.Machine);
        if (host.Processes.IsRunning(state.Process))
            return new VmSession(state.Name, state.ConsoleLog!, state.ConsoleSocket!);
        boot.Report(new MachineStep.Booting());
        foreach (var iface in state.Interfaces)
        {
            if (!await _ip.LinkExistsAsync(iface.HostVeth, cancellationToken))
                await _ip.CreateTapAsync(iface.HostVeth, journal.State.Networks[iface.Network].Bridge, cancellationToken);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(state.LogFile)!);
        File.AppendAllText(state.LogFile, $"--- {DateTimeOffset.Now:O} {QemuArguments.Program} {string.Join(' ', state.QemuArguments)}{Environment.NewLine}");
        File.Delete(state.ConsoleSocket!);
        var process = await host.Processes.StartDetachedAsync(QemuArguments.Program, state.QemuArguments, state.LogFile, cancellationToken);
        journal.Update(_ =>
        {
            state.Pid = process.Pid;
            state.StartTicks = process.StartTicks;
        });
        // QEMU makes the console's socket once the machine exists; from then on the console is the check of its boot.
        bool Started() => File.Exists(state.ConsoleSocket) || (host.Processes.IsAlive(process)
            ? false
            : throw new SpawnlabException($"VM {state.Name} stopped while starting; QEMU said:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}"));
        if (!await Poll.UntilAsync(Started, boot.Timeout, TimeSpan.FromMilliseconds(20), cancellationToken))
            throw new SpawnlabException($"VM {state.Name} had no console after {boot.Timeout.TotalSeconds:0} s; QEMU said:{Environment.NewLine}{CappedLog.Tail(state.LogFile)}");
        return new VmSession(state.Name, state.ConsoleLog!, state.ConsoleSocket!);
    }

    /// <summary>QEMU ends the VM at SIGTERM; past the timeout, SIGKILL.</summary>
    public Task StopAsync(HostProcess process, TimeSpan timeout, CancellationToken cancellationToken) =>
        host.Processes.TerminateAsync(process, timeout, cancellationToken);

    public IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab) =>
        [.. host.Processes.Matching(arguments => QemuArguments.MachineOf(arguments, lab) is not null)
            .Select(p => (Machine: QemuArguments.MachineOf(host.Processes.Arguments(p), lab)!, Process: p)).Where(m => m.Machine is not null)];

    public string? MachineOf(IReadOnlyList<string> arguments, string lab) => QemuArguments.MachineOf(arguments, lab);
}

/// <summary>A running VM without an agent: no command runs inside; its serial console is read and typed into.</summary>
public sealed record VmSession(string Machine, string ConsoleLog, string ConsoleSocket) : MachineSession(Machine)
{
    public override HostCommand Enter(IEnumerable<string> command) =>
        throw new SpawnlabException($"machine {Machine} is a network-booted VM: it has no agent to run commands in; its serial console is `spawnlab logs {Machine}` (and console: checks)");

    public override string Console() => CappedLog.Read(ConsoleLog);

    public override async Task TypeAsync(string text, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(ConsoleSocket), cancellationToken);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
    }
}
