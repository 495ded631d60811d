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
            progress.Machine(machine.Name, new MachineStep.Removing());
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

    /// <summary>
    /// Stops every machine of the lab and removes every object it recorded; the state goes last. An object that cannot
    /// be removed does not stop the rest: what is left stays recorded, is named in the error, and the next <c>down</c>
    /// tries it again. A machine's root is not touched while anything of the machine may still run.
    /// </summary>
    public async Task DownAsync(string labName, bool purgeImages, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab down");
        using var labLock = await LockAsync(labName, cancellationToken);
        await DownLockedAsync(labName, purgeImages, cancellationToken);
    }

    /// <summary><see cref="DownAsync"/> for a caller that holds the lab's lock already.</summary>
    private async Task DownLockedAsync(string labName, bool purgeImages, CancellationToken cancellationToken)
    {
        var state = Store.Load(labName) ?? throw new SpawnlabException($"no lab named {labName} is up (see `spawnlab ls`)");
        var journal = new StateJournal(Store, state);
        if (state.Lxd is not null)
        {
            await new Lxd.LxdEngine(host, options, progress, Store).DownAsync(journal, cancellationToken);
            return;
        }
        var pool = await OpenPoolOfAsync(state, cancellationToken);
        var refused = ForgetForeign(journal, pool);
        var left = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await StopMachinesAsync(state, left, cancellationToken);
        await RemoveRecordedAsync(journal, pool, left, cancellationToken);
        if (left.IsEmpty)
            RemoveLabFolders(pool, state, left);
        if (!left.IsEmpty)
        {
            throw new SpawnlabException(
                $"down left {left.Count} thing{(left.Count == 1 ? "" : "s")} of lab {labName}, still recorded (run `spawnlab down {labName}` again once fixed):" +
                string.Concat(left.Select(l => $"{Environment.NewLine}  {l}")) + RefusedText(refused));
        }
        Store.Delete(labName);
        if (purgeImages)
            await PurgeImagesAsync(pool, state, cancellationToken);
        if (refused.Count > 0)
            throw new SpawnlabException($"lab {labName} is down, but its state named objects it did not make:" + RefusedText(refused));
    }

    /// <summary>
    /// What the record names but the lab did not make (a state file edited by hand or by mistake) is left alone, and
    /// forgotten: a pid that is not the machine's nspawn, an object whose name or MAC is not the lab's. Returns what.
    /// </summary>
    private List<string> ForgetForeign(StateJournal journal, StoragePool pool)
    {
        var refused = new List<string>();
        foreach (var machine in journal.State.Machines.Values)
        {
            if (machine.Process is { } process && _ownership.MachineProcessRefusal(journal.State, machine, process) is { } refusal)
            {
                refused.Add($"process {process.Pid} of machine {machine.Name}: {refusal}");
                journal.Update(_ => machine.Pid = null);
            }
        }
        foreach (var obj in journal.Recorded(_ => true))
        {
            if (Refusal(journal, pool, obj) is { } refusal)
            {
                refused.Add($"{obj}: {refusal}");
                journal.Forget(obj);
            }
        }
        return refused;
    }

    /// <summary>
    /// Kills the machines, side by side: their roots are deleted next, so they are not shut down (a clean halt of a
    /// hundred machines costs more than 15 s of CPU on two cores, for a state nobody keeps).
    /// </summary>
    private async Task StopMachinesAsync(LabState state, System.Collections.Concurrent.ConcurrentQueue<string> left, CancellationToken cancellationToken) =>
        await Task.WhenAll(state.Machines.Values.Select(async machine =>
        {
            if (machine.Process is { } process)
            {
                progress.Machine(machine.Name, new MachineStep.Stopping());
                await Attempt(left, $"machine {machine.Name}", () => runtime.StopAsync(process, TimeSpan.Zero, cancellationToken));
                progress.Machine(machine.Name, new MachineStep.Stopped());
            }
        }));

    /// <summary>
    /// Kind by kind, each kind's objects side by side: processes, then cgroups, then roots and snapshots, then
    /// namespaces (their veths go with them), then the nftables table and the bridges.
    /// </summary>
    private async Task RemoveRecordedAsync(StateJournal journal, StoragePool pool, System.Collections.Concurrent.ConcurrentQueue<string> left, CancellationToken cancellationToken)
    {
        foreach (var kind in (HostObjectKind[])[HostObjectKind.Process, HostObjectKind.Cgroup, HostObjectKind.Root, HostObjectKind.NetworkNamespace, HostObjectKind.NftTable, HostObjectKind.Bridge])
        {
            // A machine that may still run could swap a folder of its root for a link while the root is deleted.
            if (kind == HostObjectKind.Root && !left.IsEmpty)
            {
                left.Enqueue("the roots and snapshots: kept, since something of a machine may still run");
                continue;
            }
            // Forgotten together once removed: the state is written once per kind, not once per object (a hundred
            // machines record 500 objects in a state of 200 KB). A crash before that leaves objects recorded that are
            // gone, which the next down passes over.
            var removed = new System.Collections.Concurrent.ConcurrentBag<HostObject>();
            await Parallel.ForEachAsync(
                journal.Recorded(o => o.Kind == kind).Reverse(),
                new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
                async (obj, token) => await Attempt(left, obj.ToString(), async () =>
                {
                    await RemoveUnrecordedAsync(journal, pool, obj, token);
                    removed.Add(obj);
                }));
            journal.Forget(removed);
            // The host ends of the veths go with their namespace, but only once the kernel has freed it, some time
            // later: they are deleted now, so that down leaves nothing behind when it returns.
            if (kind == HostObjectKind.NetworkNamespace)
            {
                var veths = journal.State.Machines.Values
                    .SelectMany(m => m.Interfaces.Where(i => Ownership.VethRefusal(journal.State, m, i) is null).Select(i => i.HostVeth)).ToList();
                await Attempt(left, "the machines' veths", () => _ip.DeleteLinksAsync(veths, cancellationToken));
            }
        }
    }

    /// <summary>
    /// Only the lab's plain folders are left in the pool now: every root and snapshot in them was recorded and is gone,
    /// and so are the image locks of the nspawns that were killed. Anything else is not Spawnlab's to delete.
    /// </summary>
    private static void RemoveLabFolders(StoragePool pool, LabState state, System.Collections.Concurrent.ConcurrentQueue<string> left)
    {
        foreach (var root in state.Machines.Values.Select(m => m.Root).Where(r => pool.Refusal(r) is null))
            pool.DeleteLockOf(root);
        foreach (var folder in LabFolders(pool, state.Lab))
        {
            if (pool.DeleteIfEmpty(folder) is { } kept)
                left.Enqueue($"folder {kept}: not empty, and what it holds was not recorded");
        }
    }

    private async Task PurgeImagesAsync(StoragePool pool, LabState state, CancellationToken cancellationToken)
    {
        var inUse = Store.LoadAll().SelectMany(l => l.Machines.Values.Select(m => m.Image)).ToHashSet(StringComparer.Ordinal);
        foreach (var image in state.Machines.Values.Select(m => m.Image).Distinct().Where(i => i.Length > 0 && !inUse.Contains(i)))
        {
            progress.Report($"removing image {Path.GetFileName(image)}");
            await pool.DeleteAsync(image, cancellationToken);
            File.Delete(Images.ImageStore.LogOf(image));
            File.Delete(Images.ImageRecord.FileOf(image));
        }
    }

    /// <summary>The plain folders the lab's roots and snapshots live in, deepest first.</summary>
    private static IEnumerable<string> LabFolders(StoragePool pool, string lab)
    {
        var snapshots = Path.Combine(pool.LabDirectory(lab), "snapshots");
        var perMachine = Directory.Exists(snapshots) ? Directory.EnumerateDirectories(snapshots).Where(d => new FileInfo(d).LinkTarget is null).ToList() : [];
        return [.. perMachine, snapshots, Path.Combine(pool.LabDirectory(lab), "machines"), pool.LabDirectory(lab)];
    }

    private static string RefusedText(IReadOnlyList<string> refused) =>
        refused.Count == 0 ? "" : $"{Environment.NewLine}refused, left alone and forgotten:" + string.Concat(refused.Select(r => $"{Environment.NewLine}  {r}"));

    /// <summary>Why the lab may not remove an object its state names, or null when it may.</summary>
    private string? Refusal(StateJournal journal, StoragePool pool, HostObject obj) =>
        obj.Kind == HostObjectKind.Root
            ? pool.Refusal(obj.Name)
            : _ownership.Refusal(journal.State, obj, journal.LabStateDirectory, journal.OtherLabs);

    /// <summary>Runs one removal; a failure is noted in <paramref name="left"/> instead of ending the teardown.</summary>
    private static async Task Attempt(System.Collections.Concurrent.ConcurrentQueue<string> left, string what, Func<Task> removal)
    {
        try
        {
            await removal();
        }
        catch (Exception e) when (e is SpawnlabException or IOException or UnauthorizedAccessException)
        {
            left.Enqueue($"{what}: {e.Message}");
        }
    }

    private async Task RemoveObjectAsync(StateJournal journal, StoragePool pool, HostObject obj, CancellationToken cancellationToken)
    {
        await RemoveUnrecordedAsync(journal, pool, obj, cancellationToken);
        journal.Forget(obj);
    }

    /// <summary>Removes a recorded object from the host and leaves it recorded: the caller forgets it (and others at once).</summary>
    private async Task RemoveUnrecordedAsync(StateJournal journal, StoragePool pool, HostObject obj, CancellationToken cancellationToken)
    {
        if (Refusal(journal, pool, obj) is { } refusal)
            throw new SpawnlabException($"refusing to remove {obj}: {refusal}");
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
                await host.Cgroups.RemoveAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.NftTable:
                await _nft.DeleteTableAsync(obj.Name, cancellationToken);
                break;
            case HostObjectKind.Process:
                if (obj.Process is { } process)
                    await host.Processes.TerminateAsync(process, options.StopTimeout, cancellationToken);
                break;
        }
    }
}
