using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Tests.Fakes;

/// <summary>
/// Machines that boot at once as fake processes of a <see cref="FakeHost"/>. Entering one gives a command that
/// <see cref="FakeLabShell"/> runs with the machine's root as its working directory and $ROOT: a stage's script
/// `echo one >> stages` writes into the root, so snapshots and restores can be seen.
/// </summary>
internal sealed class FakeRuntime(FakeHost host) : IMachineRuntime
{
    public const string Program = "fake-machine";

    /// <summary>Each boot, by machine name, in order.</summary>
    public List<string> Boots { get; } = [];

    public MachineRunState RunState(MachineState machine) =>
        host.Processes.IsRunning(machine.Process) ? MachineRunState.Running : MachineRunState.Stopped;

    public MachineSession? SessionOf(MachineState machine) =>
        host.Processes.IsRunning(machine.Process) ? new FakeSession(machine.Name, machine.Root) : null;

    public async Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken)
    {
        var state = boot.Machine;
        if (host.Processes.IsRunning(state.Process))
            return new FakeSession(state.Name, state.Root);
        boot.Report(new MachineStep.Booting());
        lock (Boots)
            Boots.Add(state.Name);
        foreach (var cgroup in state.Cgroups)
            boot.Journal.Record(new HostObject(HostObjectKind.Cgroup, cgroup));
        host.Cgroups.Create(state.Cgroups, frozen: false);
        var process = host.Processes.Start(Program, $"--machine={state.NspawnArguments.First(a => a.StartsWith("--machine=", StringComparison.Ordinal))["--machine=".Length..]}");
        boot.Journal.Update(_ =>
        {
            state.Pid = process.Pid;
            state.StartTicks = process.StartTicks;
        });
        if (state.PrivateUsers)
            await boot.WireAsync(process.Pid, cancellationToken);
        return new FakeSession(state.Name, state.Root);
    }

    public Task StopAsync(HostProcess process, TimeSpan timeout, CancellationToken cancellationToken)
    {
        host.Processes.Signal(process, HostProcess.SigTerm);
        return Task.CompletedTask;
    }

    public IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab) =>
        [.. host.Processes.Matching(a => MachineOf(a, lab) is not null).Select(p => (MachineOf(host.Processes.Arguments(p), lab)!, p))];

    public string? MachineOf(IReadOnlyList<string> arguments, string lab) =>
        arguments.Count == 2 && arguments[0] == Program && arguments[1].EndsWith("." + lab, StringComparison.Ordinal)
            ? arguments[1]["--machine=".Length..^(lab.Length + 1)]
            : null;

    private sealed record FakeSession(string Machine, string Root) : MachineSession(Machine)
    {
        public override HostCommand Enter(IEnumerable<string> command) => HostCommand.Of(Program, [Root, .. command]);

        public override string Console() => "fake console";
    }
}
