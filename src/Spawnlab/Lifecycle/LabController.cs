using System.Net;
using Spawnlab.Checks;
using Spawnlab.Host;
using Spawnlab.Images;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>Brings labs up and down, from the lab file and from the recorded state.</summary>
public sealed partial class LabController(IHostShell shell, SpawnlabOptions options, IProgressSink progress)
{
    private readonly IpTool _ip = new(shell);

    private readonly NftTool _nft = new(shell);

    private readonly MachineRuntime _runtime = new(shell);

    public StateStore Store { get; } = new(options.StateDirectory);

    /// <summary>Why machines cannot have user namespaces on this host (they then run as real root), or null.</summary>
    private static string? UserNamespacesUnavailable => s_userNamespaces.Value;

    private static readonly Lazy<string?> s_userNamespaces = new(HostSystem.UserNamespacesUnavailable);

    private Task<LabLock> LockAsync(string lab, CancellationToken cancellationToken) =>
        LabLock.AcquireAsync(options.StateDirectory, lab, options.WaitForLock, progress.Report, cancellationToken);

    public Task<UpResult> UpAsync(LabDefinition lab, CancellationToken cancellationToken) =>
        UpAsync(lab, new UpOptions(), cancellationToken);

    public async Task<UpResult> UpAsync(LabDefinition lab, UpOptions up, CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab up");
        using var labLock = await LockAsync(lab.Name, cancellationToken);
        await PreflightAsync(lab, cancellationToken);
        var pool = await new PoolOpener(shell, options.StateDirectory).OpenAsync(options.Driver, cancellationToken);
        var existing = Store.Load(lab.Name);
        if (existing is not null && existing.PoolPath != pool.Root)
            throw new SpawnlabException($"lab {lab.Name} is up in another pool ({existing.PoolPath}); run `spawnlab down {lab.Name}` first");
        var journal = new StateJournal(Store, existing ?? new LabState { Lab = lab.Name, PoolPath = pool.Root, Driver = pool.Driver.Name });
        try
        {
            return await UpRecordedAsync(lab, up, pool, journal, cancellationToken);
        }
        catch (Exception) when (existing is null && journal.State.Objects.Count == 0 && journal.State.Machines.Count == 0)
        {
            // A new lab refused before it made anything leaves no record behind.
            Store.Delete(lab.Name);
            throw;
        }
    }

    private async Task<UpResult> UpRecordedAsync(LabDefinition lab, UpOptions up, StoragePool pool, StateJournal journal, CancellationToken cancellationToken)
    {
        journal.Update(s => s.LabFile = lab.FilePath);
        Directory.CreateDirectory(Store.LogDirectory(lab.Name));

        CheckNameClashes(lab);
        await CheckHostClashesAsync(lab, journal.State, cancellationToken);
        await RemoveObsoleteAsync(lab, journal, pool, cancellationToken);

        var images = new ImageStore(shell, pool, progress);
        var imagePaths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in lab.Machines.Values.Select(m => m.Image).Distinct())
            imagePaths[image] = await images.EnsureAsync(lab.Images[image], cancellationToken);

        await UpNetworksAsync(lab, journal, up.Uplink, cancellationToken);
        if (UserNamespacesUnavailable is { } reason && lab.Machines.Values.Any(m => m.PrivateUsers))
            progress.Report($"machines run as real root: {reason}");

        if (up.From is { } from && (!lab.Machines.TryGetValue(from.Machine, out var fromMachine) || fromMachine.Stages.All(s => s.Name != from.Stage)))
            throw new SpawnlabException($"--from {from.Machine}/{from.Stage}: lab {lab.Name} has no such machine and stage", exitCode: 2);

        var run = new LabRun(lab, pool, journal, up, imagePaths, Math.Max(1, up.Jobs ?? Environment.ProcessorCount * 4));
        foreach (var machine in lab.Machines.Values)
            run.BaseKeys[machine.Name] = UpPlanner.BaseKey(lab, machine, imagePaths[machine.Image]);
        run.Keys = StageKeys.ComputeLab(lab, run.BaseKeys, cancellationToken);

        await Task.WhenAll(lab.Machines.Values.Select(machine => RunMachineAsync(run, machine, cancellationToken)));
        return new UpResult(journal.State, [.. run.Checks], [.. run.Failures], [.. run.Skipped]);
    }

    /// <summary>
    /// One machine's part of `up`: its root is made or restored at once (other machines may mount it), then it waits
    /// for what its boot waits for, boots, and runs its stages, each after what it waits for. Work, not waiting, takes
    /// one of the run's job slots.
    /// </summary>
    private async Task RunMachineAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken)
    {
        var name = machine.Name;
        try
        {
            MachinePlan plan;
            await run.Jobs.WaitAsync(cancellationToken);
            try
            {
                plan = await PrepareMachineAsync(run, machine, cancellationToken);
            }
            finally
            {
                run.Jobs.Release();
                run.RootReady(name).TrySetResult();
            }

            if (await WaitForAsync(run, machine.After, cancellationToken) is { } blocker)
            {
                run.Skip(machine, 0, new SkipReason.Waited(blocker.ToString()));
                progress.Machine(name, $"skipped: {blocker} did not complete", MachinePhase.Skipped);
                return;
            }
            foreach (var bind in machine.Binds.Where(b => b.Machine is not null))
                await run.RootReady(bind.Machine!).Task.WaitAsync(cancellationToken);

            int leader;
            await run.Jobs.WaitAsync(cancellationToken);
            try
            {
                leader = await BootAsync(run.Journal, plan.State, cancellationToken);
                await WaitForLeasesAsync(plan.State, cancellationToken);
            }
            finally
            {
                run.Jobs.Release();
            }
            for (var i = 0; i < plan.Cached; i++)
                run.Done(name, machine.Stages[i].Name).TrySetResult(true);

            var runner = new StageRunner(shell, new CheckRunner(shell));
            for (var i = plan.Cached; i < plan.Keys.Count; i++)
            {
                var stage = machine.Stages[i];
                if (await WaitForAsync(run, stage.After, cancellationToken) is { } stageBlocker)
                {
                    run.Skip(machine, i, new SkipReason.Waited(stageBlocker.ToString()));
                    progress.Machine(name, $"stage {stage.Name} skipped: {stageBlocker} did not complete", MachinePhase.Skipped);
                    return;
                }
                await run.Jobs.WaitAsync(cancellationToken);
                try
                {
                    await RunStageAsync(run, plan, runner, leader, i, cancellationToken);
                }
                finally
                {
                    run.Jobs.Release();
                }
                run.Done(name, stage.Name).TrySetResult(true);
            }
            await plan.Snapshots.PruneAsync([.. plan.Keys.Prepend(plan.StartKey)], cancellationToken);
            progress.Machine(name, plan.Cached == plan.Keys.Count && plan.Keys.Count > 0 ? "ready (every stage cached)" : "ready", MachinePhase.Ready);
        }
        catch (SpawnlabException e)
        {
            progress.Machine(name, "failed", MachinePhase.Failed);
            run.Fail(machine, e.Message);
        }
        finally
        {
            run.RootReady(name).TrySetResult();
            foreach (var stage in machine.Stages)
                run.Done(name, stage.Name).TrySetResult(false);
        }
    }

    /// <summary>Waits for stages of other machines; returns the first that failed or was skipped, or null.</summary>
    private static async Task<StageRef?> WaitForAsync(LabRun run, IEnumerable<StageRef> references, CancellationToken cancellationToken)
    {
        foreach (var reference in references)
        {
            if (!await run.Done(reference.Machine, reference.Stage).Task.WaitAsync(cancellationToken))
                return reference;
        }
        return null;
    }

    /// <summary>The doctor's cheap checks, before anything is made: fail early with its advice instead of hanging.</summary>
    private async Task PreflightAsync(LabDefinition lab, CancellationToken cancellationToken)
    {
        var findings = await new Doctor.HostDoctor(shell, options.StateDirectory).ExamineAsync(cancellationToken);
        var problems = new List<string>();
        foreach (var finding in findings.Where(f => f.Severity == Doctor.Severity.Problem))
        {
            switch (finding.Check)
            {
                case "inotify" when lab.Machines.Count * Doctor.HostDoctor.InotifyInstancesPerMachine > (Sysctl.ReadInt("fs.inotify.max_user_instances") ?? 0):
                case "tools":
                case "cgroups":
                case "forward policy" when lab.Networks.Count > 0:
                    problems.Add($"{finding.Check}: {finding.Detail}; fix: {finding.Advice}");
                    break;
            }
        }
        if (problems.Count > 0)
            throw new SpawnlabException($"lab {lab.Name} cannot come up on this host (`spawnlab doctor --fix` repairs what it can):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
    }

    /// <summary>
    /// Host names join the lab's and the machine's with '-', which both may hold: lab adv8-x's machine m1 and lab
    /// adv8's machine x-m1 would share a network namespace and cgroups. The second lab is refused before it makes anything.
    /// </summary>
    private void CheckNameClashes(LabDefinition lab)
    {
        foreach (var other in Store.LoadAll().Where(l => l.Lab != lab.Name))
        {
            foreach (var machine in lab.Machines.Keys)
            {
                var name = HostNames.Namespace(lab.Name, machine);
                if (other.Machines.Keys.FirstOrDefault(m => HostNames.Namespace(other.Lab, m) == name) is { } theirs)
                    throw new SpawnlabException(
                        $"machine {machine} of lab {lab.Name} would be named {name} on the host, as machine {theirs} of lab {other.Lab} is; rename one of them", exitCode: 2);
            }
        }
    }

    private async Task CheckHostClashesAsync(LabDefinition lab, LabState state, CancellationToken cancellationToken)
    {
        var ours = state.Networks.Values.Select(n => n.Bridge).ToHashSet(StringComparer.Ordinal);
        foreach (var (iface, cidr) in await _ip.HostAddressesAsync(cancellationToken))
        {
            if (ours.Contains(iface) || iface == "lo")
                continue;
            var address = IPAddress.Parse(cidr[..cidr.IndexOf('/')]);
            var prefix = int.Parse(cidr[(cidr.IndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            var hostNetwork = new IPNetwork(Ipv4.Mask(address, prefix), prefix);
            foreach (var network in lab.Networks.Values)
            {
                if (iface == HostNames.Bridge(lab.Name, network.Name))
                    throw new SpawnlabException(LeftBehind(lab.Name, $"interface {iface}, the bridge of network '{network.Name}',"));
                if (network.Subnet.Contains(address) || hostNetwork.Contains(network.Subnet.BaseAddress))
                    throw new SpawnlabException(
                        $"network '{network.Name}' of lab {lab.Name}: subnet {network.Subnet} clashes with {cidr} on host interface {iface}; choose another subnet", exitCode: 2);
            }
        }
    }

    /// <summary>What to say of an object named as the lab's that its state does not record.</summary>
    internal static string LeftBehind(string lab, string what) =>
        $"{what} exists but lab {lab} did not record it: it is left from a run of lab {lab} whose state was lost " +
        $"(`spawnlab clean --force {lab}` removes what is left of it), or another program made it; refusing to take it over";

    private async Task<StoragePool> OpenPoolOfAsync(LabState lab, CancellationToken cancellationToken)
    {
        var opener = new PoolOpener(shell, options.StateDirectory);
        return opener.Existing() is { } existing && existing.Root == lab.PoolPath
            ? await opener.OpenAsync(DriverChoice.Auto, cancellationToken)
            : throw new SpawnlabException($"the pool of lab {lab.Lab} ({lab.PoolPath}) is not the pool of {options.StateDirectory}");
    }

    /// <summary>Finds a machine by name in every lab, or by LAB/MACHINE.</summary>
    public (LabState Lab, MachineState Machine) FindMachine(string reference)
    {
        var labs = Store.LoadAll();
        var slash = reference.IndexOf('/');
        var matches = slash >= 0
            ? labs.Where(l => l.Lab == reference[..slash]).SelectMany(l => l.Machines.Values.Where(m => m.Name == reference[(slash + 1)..]).Select(m => (l, m))).ToList()
            : labs.SelectMany(l => l.Machines.Values.Where(m => m.Name == reference).Select(m => (l, m))).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new SpawnlabException($"no machine named {reference} (see `spawnlab ls`)"),
            _ => throw new SpawnlabException($"machine name {reference} is ambiguous; say which lab: {string.Join(", ", matches.Select(m => $"{m.l.Lab}/{m.m.Name}"))}", exitCode: 2),
        };
    }

    /// <summary>The PID 1 of a running machine, for commands run inside it.</summary>
    public static int LeaderOf(LabState lab, MachineState machine) =>
        machine.Process is { } process && MachineRuntime.Leader(process) is { } leader
            ? leader
            : throw new SpawnlabException($"machine {lab.Lab}/{machine.Name} is not running; `spawnlab up` starts it");
}
