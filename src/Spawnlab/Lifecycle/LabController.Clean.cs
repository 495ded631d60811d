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
    /// <summary>
    /// Sweeps what labs left behind: a lab none of whose machines runs any more (the host rebooted, or everything
    /// was killed) is taken down from its record; in a lab that runs, the leftovers of interrupted work (roots set
    /// aside, temporary snapshots, dead processes, stray machines of the lab) go; so do interrupted bootstraps.
    /// Only what is recorded, or named as the lab's own inside the pool, is touched. Returns what it removed.
    /// </summary>
    public async Task<IReadOnlyList<string>> CleanAsync(CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab clean");
        var removed = new List<string>();
        var problems = new List<string>();
        foreach (var lab in Store.LoadAll())
        {
            try
            {
                await CleanLabAsync(lab.Lab, removed, cancellationToken);
            }
            catch (SpawnlabException e)
            {
                // One lab that cannot be cleaned does not keep the others from being cleaned.
                problems.Add(e.Message);
            }
        }
        problems.AddRange(Store.Unreadable().Select(u => $"lab {u.Lab}: {u.Problem}; `spawnlab clean --force {u.Lab}` removes what it left"));
        foreach (var (project, lab) in await new Lxd.LxdEngine(host, options, progress, Store).UnrecordedProjectsAsync(Store.LoadAll(), cancellationToken))
            problems.Add($"LXD project {project} was made for lab {lab}, and no state records it; `spawnlab clean --force {lab}` removes what is in it");
        if (new PoolOpener(host, options.StateDirectory).Existing() is { } existing && Directory.Exists(existing.ImagesDirectory))
        {
            var pool = await new PoolOpener(host, options.StateDirectory).OpenAsync(DriverChoice.Auto, cancellationToken);
            foreach (var leftover in Directory.EnumerateDirectories(pool.ImagesDirectory, Leftovers.TemporaryPrefix + "*").ToList())
            {
                await pool.DeleteAsync(leftover, cancellationToken);
                removed.Add($"interrupted bootstrap {Path.GetFileName(leftover)}");
            }
        }
        if (problems.Count > 0)
        {
            throw new SpawnlabException(
                string.Concat(removed.Select(r => $"removed {r}{Environment.NewLine}")) + "clean could not finish:" + string.Concat(problems.Select(p => $"{Environment.NewLine}  {p}")));
        }
        return removed;
    }

    /// <summary>Cleans one lab: down if nothing of it runs, otherwise the leftovers of interrupted work only.</summary>
    private async Task CleanLabAsync(string labName, List<string> removed, CancellationToken cancellationToken)
    {
        using var labLock = await LockAsync(labName, cancellationToken);
        if (Store.Load(labName) is not { } state)
            return;
        // A machine whose nspawn was killed alone still runs in its cgroups.
        var running = state.Machines.Values.Where(m => runtime.RunState(m) != MachineRunState.Stopped).Select(m => m.Name).ToList();
        var strays = StrayMachines(state);
        if (running.Count == 0 && strays.Count == 0)
        {
            var objects = state.Objects.Select(o => o.ToString()).ToList();
            await DownLockedAsync(labName, purgeImages: false, cancellationToken);
            removed.Add($"lab {labName} (nothing of it was running): {(objects.Count == 0 ? "its state" : string.Join(", ", objects))}");
            return;
        }
        var journal = new StateJournal(Store, state);
        var pool = await OpenPoolOfAsync(state, cancellationToken);
        var unknown = new List<string>();
        foreach (var (machine, process) in strays)
        {
            // A second boot of a recorded machine that a killed CLI did not record goes; a machine the record does
            // not know at all (a state that lost it) is not clean's to kill.
            if (!state.Machines.ContainsKey(machine))
            {
                unknown.Add(HostNames.MachineUnitName(labName, machine));
                continue;
            }
            host.Processes.Signal(process, HostProcess.SigKill);
            removed.Add($"lab {labName}: stray systemd-nspawn pid {process.Pid} not in the record");
        }
        foreach (var obj in state.Objects.ToList())
        {
            var leftover = obj.Kind switch
            {
                HostObjectKind.Root => Leftovers.IsLeftover(obj.Name),
                HostObjectKind.Process => obj.Process is { } process && !host.Processes.IsAlive(process),
                _ => false,
            };
            if (!leftover)
                continue;
            await RemoveObjectAsync(journal, pool, obj, cancellationToken);
            removed.Add($"lab {labName}: {obj}");
        }
        if (unknown.Count > 0)
            throw new SpawnlabException($"lab {labName}: {string.Join(", ", unknown)} run but its state does not record them; `spawnlab clean --force {labName}` takes the lab down whatever its state says");
    }

    /// <summary>
    /// systemd-nspawn processes booting a machine of this lab that the record does not name: a CLI killed between the
    /// two, or a record that lost its machines. A machine's name has no '.', so MACHINE.LAB names this lab alone.
    /// </summary>
    private IReadOnlyList<(string Machine, HostProcess Process)> StrayMachines(LabState lab)
    {
        var recorded = lab.Machines.Values.Select(m => m.Pid).OfType<int>().ToHashSet();
        return [.. runtime.RunningOf(lab.Lab).Where(m => !recorded.Contains(m.Process.Pid))];
    }
}
