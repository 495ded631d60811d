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
        host.Processes.IsRunning(machine.Process) ? new VmSession(machine.Name, machine.ConsoleLog!, machine.ConsoleSocket!, machine.AgentSocket) : null;

    public async Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken)
    {
        var (journal, state) = (boot.Journal, boot.Machine);
        if (host.Processes.IsRunning(state.Process))
            return new VmSession(state.Name, state.ConsoleLog!, state.ConsoleSocket!, state.AgentSocket);
        boot.Report(new MachineStep.Booting());
        foreach (var iface in state.Interfaces)
        {
            if (!await _ip.LinkExistsAsync(iface.HostVeth, cancellationToken))
                await _ip.CreateTapAsync(iface.HostVeth, journal.State.Networks[iface.Network].Bridge, cancellationToken);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(state.LogFile)!);
        File.AppendAllText(state.LogFile, $"--- {DateTimeOffset.Now:O} {QemuArguments.Program} {string.Join(' ', state.QemuArguments)}{Environment.NewLine}");
        File.Delete(state.ConsoleSocket!);
        if (state.AgentSocket is { } agentSocket)
            File.Delete(agentSocket);
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
        var session = new VmSession(state.Name, state.ConsoleLog!, state.ConsoleSocket!, state.AgentSocket);
        if (state.AgentSocket is not null)
        {
            boot.Report(new MachineStep.Starting());
            await WaitUntilReadyAsync(state, process, session, BootTimeout(boot.Timeout), cancellationToken);
        }
        return session;
    }

    /// <summary>A VM boots a whole kernel, several times slower under emulation: it gets at least ten minutes.</summary>
    private static TimeSpan BootTimeout(TimeSpan containers) => containers > TimeSpan.FromMinutes(10) ? containers : TimeSpan.FromMinutes(10);

    /// <summary>Until its guest agent answers and systemd inside says running or degraded, as for a container.</summary>
    private async Task WaitUntilReadyAsync(MachineState state, HostProcess qemu, VmSession session, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var agent = new GuestAgent(state.AgentSocket!);
        var said = "no answer from its guest agent (qemu-guest-agent)";
        async Task<bool> Ready(CancellationToken token)
        {
            if (!host.Processes.IsAlive(qemu))
                throw new SpawnlabException($"VM {state.Name} stopped while booting; its console ends with:{Environment.NewLine}{CappedLog.Tail(state.ConsoleLog!)}");
            if (!await agent.PingAsync(token))
                return false;
            var result = await agent.ExecAsync(["systemctl", "is-system-running"], [], token);
            said = $"systemd says '{result.StandardOutput.Trim()}'";
            return result.StandardOutput.Trim() is "running" or "degraded";
        }
        if (!await Poll.UntilAsync(Ready, timeout, TimeSpan.FromSeconds(1), cancellationToken))
            throw new SpawnlabException($"VM {state.Name} was not ready after {timeout.TotalSeconds:0} s ({said}); its console ends with:{Environment.NewLine}{CappedLog.Tail(state.ConsoleLog!)}");
    }

    /// <summary>QEMU ends the VM at SIGTERM; past the timeout, SIGKILL.</summary>
    public Task StopAsync(HostProcess process, TimeSpan timeout, CancellationToken cancellationToken) =>
        host.Processes.TerminateAsync(process, timeout, cancellationToken);

    public IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab) =>
        [.. host.Processes.Matching(arguments => QemuArguments.MachineOf(arguments, lab) is not null)
            .Select(p => (Machine: QemuArguments.MachineOf(host.Processes.Arguments(p), lab)!, Process: p)).Where(m => m.Machine is not null)];

    public string? MachineOf(IReadOnlyList<string> arguments, string lab) => QemuArguments.MachineOf(arguments, lab);
}

/// <summary>
/// A running VM: commands run inside through its guest agent (an image-booted VM); a network-booted one has none, and is
/// only read and typed into on its serial console.
/// </summary>
public sealed record VmSession(string Machine, string ConsoleLog, string ConsoleSocket, string? AgentSocket) : MachineSession(Machine)
{
    /// <summary>No program of the host enters a VM: commands go through <see cref="RunAsync"/>.</summary>
    public override HostCommand Enter(IEnumerable<string> command) =>
        throw new SpawnlabException(AgentSocket is null ? NoAgent : $"machine {Machine} is a VM: commands reach it through its guest agent, not from a program of the host");

    private string NoAgent => $"machine {Machine} is a network-booted VM: it has no agent to run commands in; its serial console is `spawnlab logs {Machine}` (and console: checks)";

    public override async Task<HostResult> RunAsync(IHostShell shell, MachineCommand command, CancellationToken cancellationToken)
    {
        if (AgentSocket is null)
            throw new SpawnlabException(NoAgent);
        var input = command.StandardInputFile is { } file ? await File.ReadAllBytesAsync(file, cancellationToken) : Encoding.UTF8.GetBytes(command.StandardInput ?? "");
        var result = await new GuestAgent(AgentSocket).ExecAsync(command.Arguments, input, cancellationToken);
        if (command.LogFile is { } log)
            await File.AppendAllTextAsync(log, result.StandardOutput + result.StandardError, cancellationToken);
        if (command.ThrowOnFailure && !result.Succeeded)
            throw new HostCommandException(HostCommand.Of(command.Arguments[0], command.Arguments.Skip(1)), result.ExitCode, result.StandardError);
        return result;
    }

    /// <summary>Through the guest agent, whose output is text (and at most 16 MB): the archive comes as base64.</summary>
    public override async Task ReadArchiveAsync(IHostShell shell, string machinePath, string archive, CancellationToken cancellationToken)
    {
        var result = await RunAsync(shell, new MachineCommand(["/bin/sh", "-c", $"f=$(mktemp) && ({TarOf}) > \"$f\" && base64 -w0 \"$f\"; s=$?; rm -f \"$f\"; exit $s", "sh", machinePath]), cancellationToken);
        await File.WriteAllBytesAsync(archive, Convert.FromBase64String(result.StandardOutput.Trim()), cancellationToken);
    }

    public override bool RootOnHost => false;

    public override Task SettleAsync(CancellationToken cancellationToken) =>
        AgentSocket is null ? Task.CompletedTask : new GuestAgent(AgentSocket).SyncAsync(cancellationToken);

    public override string Console() => CappedLog.Read(ConsoleLog);

    public override async Task TypeAsync(string text, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(ConsoleSocket), cancellationToken);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
    }
}
