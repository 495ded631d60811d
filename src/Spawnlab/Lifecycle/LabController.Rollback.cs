using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>
    /// Puts a machine back to just after one of its stages and restarts it: later stages become pending.
    /// On btrfs this takes constant time whatever the size of the root.
    /// </summary>
    public async Task RestoreAsync(string reference, string stage, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab restore");
        using var labLock = await LockAsync(FindMachine(reference).Lab.Lab, cancellationToken);
        var (lab, machine) = FindMachine(reference);
        var index = machine.Stages.FindIndex(s => s.Name == stage);
        if (index < 0)
            throw new SpawnlabException($"machine {lab.Lab}/{machine.Name} has no stage {stage}; its stages: {string.Join(", ", machine.Stages.Select(s => s.Name))}", exitCode: 2);
        var journal = new StateJournal(Store, lab);
        var pool = await OpenPoolOfAsync(lab, cancellationToken);
        await RestoreMachineAsync(journal, pool, machine, index, cancellationToken);
    }

    /// <summary>
    /// Lab-wide rollback: the machine back to just after STAGE, and every machine with a stage that waits, directly or
    /// through others, for a later stage of it back to its last stage that does not. Returns what went back where.
    /// </summary>
    public async Task<IReadOnlyList<string>> RollbackAsync(string reference, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab rollback");
        var (labName, target) = StageRef.ParseQualified(reference);
        var machineReference = labName is null ? target.Machine : $"{labName}/{target.Machine}";
        using var labLock = await LockAsync(FindMachine(machineReference).Lab.Lab, cancellationToken);
        var (lab, machine) = FindMachine(machineReference);
        var stage = target.Stage;
        var index = machine.Stages.FindIndex(s => s.Name == stage);
        if (index < 0)
            throw new SpawnlabException($"machine {lab.Lab}/{machine.Name} has no stage {stage}", exitCode: 2);

        var targets = RollbackTargets(lab, machine.Name, index);
        var journal = new StateJournal(Store, lab);
        var pool = await OpenPoolOfAsync(lab, cancellationToken);
        await Task.WhenAll(targets.Select(t => RestoreMachineAsync(journal, pool, lab.Machines[t.Key], t.Value, cancellationToken)));
        return [.. targets.Select(t => t.Value < 0
            ? $"{t.Key}: back to its fresh root"
            : $"{t.Key}: back to just after stage {lab.Machines[t.Key].Stages[t.Value].Name}")];
    }

    /// <summary>For each machine to roll back, the index of the last stage it keeps (-1: none).</summary>
    internal static Dictionary<string, int> RollbackTargets(LabState lab, string machine, int index)
    {
        var keep = new Dictionary<string, int>(StringComparer.Ordinal) { [machine] = index };
        var invalid = new HashSet<string>(lab.Machines[machine].Stages.Skip(index + 1).Select(s => $"{machine}/{s.Name}"), StringComparer.Ordinal);
        bool changed;
        do
        {
            changed = false;
            foreach (var other in lab.Machines.Values)
            {
                var first = other.Stages.FindIndex(s => s.After.Any(invalid.Contains));
                if (first < 0 || (keep.TryGetValue(other.Name, out var kept) && kept < first))
                    continue;
                keep[other.Name] = first - 1;
                foreach (var later in other.Stages.Skip(first))
                    changed |= invalid.Add($"{other.Name}/{later.Name}");
            }
        }
        while (changed);
        return keep;
    }

    /// <summary>Kills the machine, puts its root back to just after stage <paramref name="index"/> (-1: its fresh root) and boots it.</summary>
    private async Task RestoreMachineAsync(StateJournal journal, StoragePool pool, MachineState machine, int index, CancellationToken cancellationToken)
    {
        if (machine.Lxd is not null)
        {
            await new Lxd.LxdEngine(host, options, progress, Store).RestoreMachineAsync(journal, machine, index, cancellationToken);
            return;
        }
        var snapshots = new SnapshotStore(pool, journal, journal.State.Lab, machine.Name);
        var key = index < 0 ? machine.BaseKey : machine.Stages[index].Key;
        if (key is null || !snapshots.Exists(key))
            throw new SpawnlabException(index < 0
                ? $"{journal.State.Lab}/{machine.Name} has no snapshot of its fresh root; `spawnlab up --from` reruns its stages"
                : $"stage {machine.Stages[index].Name} of {journal.State.Lab}/{machine.Name} has no snapshot (it is {machine.Stages[index].Status.ToString().ToLowerInvariant()}); `spawnlab up` runs it");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await StopMachineAsync(journal, machine, cancellationToken, discardingRoot: true);
        var stopped = clock.Elapsed;
        journal.Update(_ => machine.RootAt = null);
        await snapshots.RestoreAsync(snapshots.PathOf(key), machine.Root, cancellationToken);
        var what = index < 0 ? "its fresh root" : $"stage {machine.Stages[index].Name}";
        progress.Machine(machine.Name, new MachineStep.RootRestored(what, clock.Elapsed - stopped, stopped));
        journal.Update(_ =>
        {
            machine.RootAt = key;
            foreach (var later in machine.Stages.Skip(index + 1))
                later.Status = StageStatus.Pending;
        });
        await BootAsync(journal, machine, cancellationToken);
        await WaitForLeasesAsync(machine, cancellationToken);
        progress.Machine(machine.Name, new MachineStep.Ready(EveryStageCached: false));
    }
}
