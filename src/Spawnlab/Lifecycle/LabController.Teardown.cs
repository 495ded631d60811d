using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>Machines and networks that the lab file no longer has are removed on the next <c>up</c>.</summary>
    private async Task RemoveObsoleteAsync(LabDefinition lab, StateJournal journal, StoragePool pool, CancellationToken cancellationToken)
    {
        foreach (var machine in journal.State.Machines.Values.Where(m => !lab.Machines.ContainsKey(m.Name)).ToList())
        {
            progress.Machine(machine.Name, "removed from the lab file: removing");
            await RemoveMachineAsync(journal, pool, machine, cancellationToken);
        }
        foreach (var network in journal.State.Networks.Values.Where(n => !lab.Networks.ContainsKey(n.Name)).ToList())
        {
            await RemoveObjectAsync(journal, pool, new HostObject(HostObjectKind.Bridge, network.Bridge), cancellationToken);
            journal.Update(s => s.Networks.Remove(network.Name));
        }
    }

    private async Task RemoveMachineAsync(StateJournal journal, StoragePool pool, MachineState machine, CancellationToken cancellationToken)
    {
        await StopMachineAsync(journal, machine, cancellationToken, discardingRoot: true);
        await new SnapshotStore(pool, journal, journal.State.Lab, machine.Name).PruneAsync([], cancellationToken);
        await RemoveObjectAsync(journal, pool, new HostObject(HostObjectKind.Root, machine.Root), cancellationToken);
        await RemoveObjectAsync(journal, pool, new HostObject(HostObjectKind.NetworkNamespace, machine.Namespace), cancellationToken);
        foreach (var cgroup in machine.Cgroups)
            await RemoveObjectAsync(journal, pool, new HostObject(HostObjectKind.Cgroup, cgroup), cancellationToken);
        journal.Update(s => s.Machines.Remove(machine.Name));
    }

    /// <summary>Stops every machine of the lab and removes every object it recorded; the state goes last.</summary>
    public async Task DownAsync(string labName, bool purgeImages, CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab down");
        using var labLock = await LockAsync(labName, cancellationToken);
        var state = Store.Load(labName) ?? throw new SpawnlabException($"no lab named {labName} is up (see `spawnlab ls`)");
        var journal = new StateJournal(Store, state);
        var pool = await OpenPoolOfAsync(state, cancellationToken);

        // The roots are deleted next: the machines are killed, not shut down (a clean halt of a hundred machines
        // costs more than 15 s of CPU on two cores, for a state nobody keeps).
        await Task.WhenAll(state.Machines.Values.Select(async machine =>
        {
            if (machine.Process is { } process)
            {
                progress.Machine(machine.Name, "stopping");
                await MachineRuntime.StopAsync(process, TimeSpan.Zero, cancellationToken);
                progress.Machine(machine.Name, "stopped");
            }
        }));
        var images = state.Machines.Values.Select(m => m.Image).Distinct().ToList();
        // Kind by kind, each kind's objects side by side: processes, then cgroups, then roots and snapshots, then
        // namespaces (their veths go with them), then the nftables table and the bridges.
        foreach (var kind in (HostObjectKind[])[HostObjectKind.Process, HostObjectKind.Cgroup, HostObjectKind.Root, HostObjectKind.NetworkNamespace, HostObjectKind.NftTable, HostObjectKind.Bridge])
        {
            await Parallel.ForEachAsync(
                Enumerable.Reverse(state.Objects.Where(o => o.Kind == kind).ToList()),
                new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
                async (obj, token) => await RemoveObjectAsync(journal, pool, obj, token));
        }
        // Only the lab's plain folders are left there now; every root and snapshot in them was recorded and is gone.
        var labDirectory = pool.Inside(pool.LabDirectory(labName));
        if (Directory.Exists(labDirectory))
            Directory.Delete(labDirectory, recursive: true);
        Store.Delete(labName);

        if (purgeImages)
        {
            var inUse = Store.LoadAll().SelectMany(l => l.Machines.Values.Select(m => m.Image)).ToHashSet(StringComparer.Ordinal);
            foreach (var image in images.Where(i => !inUse.Contains(i)))
            {
                progress.Report($"removing image {Path.GetFileName(image)}");
                await pool.DeleteAsync(image, cancellationToken);
            }
        }
    }

    private async Task RemoveObjectAsync(StateJournal journal, StoragePool pool, HostObject obj, CancellationToken cancellationToken)
    {
        switch (obj.Kind)
        {
            case HostObjectKind.Root:
                await pool.DeleteAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.NetworkNamespace:
                await _ip.DeleteNamespaceAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.Bridge:
                await _ip.DeleteLinkAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.Cgroup:
                await MachineCgroup.RemoveAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.NftTable:
                await _nft.DeleteTableAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.Process:
                if (obj.StartTicks is { } ticks)
                    await MachineRuntime.StopAsync(new HostProcess(int.Parse(obj.Name, System.Globalization.CultureInfo.InvariantCulture), ticks), options.StopTimeout, cancellationToken);
                break;
        }
        journal.Forget(obj);
    }

    /// <summary>
    /// Sweeps what labs left behind: a lab none of whose machines runs any more (the host rebooted, or everything
    /// was killed) is taken down from its record; in a lab that runs, the leftovers of interrupted work (roots set
    /// aside, temporary snapshots, dead processes, stray machines of the lab) go; so do interrupted bootstraps.
    /// Only what is recorded, or named as the lab's own inside the pool, is touched. Returns what it removed.
    /// </summary>
    public async Task<IReadOnlyList<string>> CleanAsync(CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab clean");
        var removed = new List<string>();
        foreach (var lab in Store.LoadAll())
        {
            using (var labLock = await LockAsync(lab.Lab, cancellationToken))
            {
                var state = Store.Load(lab.Lab)!;
                var running = state.Machines.Values.Where(m => m.Process is { IsAlive: true }).Select(m => m.Name).ToList();
                var strays = StrayMachines(state);
                if (running.Count == 0 && strays.Count == 0)
                {
                    var objects = state.Objects.Select(o => o.ToString()).ToList();
                    labLock.Dispose();
                    await DownAsync(lab.Lab, purgeImages: false, cancellationToken);
                    removed.Add($"lab {lab.Lab} (nothing of it was running): {(objects.Count == 0 ? "its state" : string.Join(", ", objects))}");
                    continue;
                }
                var journal = new StateJournal(Store, state);
                var pool = await OpenPoolOfAsync(state, cancellationToken);
                foreach (var process in strays)
                {
                    process.Signal(HostProcess.SigKill);
                    removed.Add($"lab {lab.Lab}: stray systemd-nspawn pid {process.Pid} not in the record");
                }
                foreach (var obj in state.Objects.ToList())
                {
                    var leftover = obj.Kind switch
                    {
                        HostObjectKind.Root => Path.GetFileName(obj.Name).StartsWith(".tmp-", StringComparison.Ordinal) || obj.Name.Contains(".old-", StringComparison.Ordinal),
                        HostObjectKind.Process => obj.StartTicks is { } ticks && !new HostProcess(int.Parse(obj.Name, System.Globalization.CultureInfo.InvariantCulture), ticks).IsAlive,
                        _ => false,
                    };
                    if (!leftover)
                        continue;
                    await RemoveObjectAsync(journal, pool, obj, cancellationToken);
                    removed.Add($"lab {lab.Lab}: {obj}");
                }
            }
        }
        if (new PoolOpener(shell, options.StateDirectory).Existing() is { } existing && Directory.Exists(existing.ImagesDirectory))
        {
            var pool = await new PoolOpener(shell, options.StateDirectory).OpenAsync(DriverChoice.Auto, cancellationToken);
            foreach (var leftover in Directory.EnumerateDirectories(pool.ImagesDirectory, ".tmp-*").ToList())
            {
                await pool.DeleteAsync(leftover, cancellationToken);
                removed.Add($"interrupted bootstrap {Path.GetFileName(leftover)}");
            }
        }
        return removed;
    }

    /// <summary>systemd-nspawn processes booting a machine of this lab that the record does not name (a CLI killed between the two).</summary>
    private static IReadOnlyList<HostProcess> StrayMachines(LabState lab)
    {
        var recorded = lab.Machines.Values.Select(m => m.Pid).OfType<int>().ToHashSet();
        var units = lab.Machines.Keys.Select(m => $"--machine={HostNames.MachineUnitName(lab.Lab, m)}").ToHashSet(StringComparer.Ordinal);
        return [.. HostProcess.Matching(arguments => arguments[0].EndsWith("systemd-nspawn", StringComparison.Ordinal) && arguments.Any(units.Contains))
            .Where(p => !recorded.Contains(p.Pid))];
    }
}
