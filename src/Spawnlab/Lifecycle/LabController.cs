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
public sealed partial class LabController(IHost host, SpawnlabOptions options, IProgressSink progress, IMachineRuntime runtime)
{
    /// <summary>A controller whose machines are systemd-nspawn containers.</summary>
    public LabController(IHost host, SpawnlabOptions options, IProgressSink progress)
        : this(host, options, progress, new MachineRuntimes(host))
    {
    }

    private readonly IpTool _ip = new(host);

    private readonly NftTool _nft = new(host.Shell);

    private readonly Ownership _ownership = new(host, runtime);

    public StateStore Store { get; } = new(options.StateDirectory);

    private Task<LabLock> LockAsync(string lab, CancellationToken cancellationToken) =>
        LabLock.AcquireAsync(options.StateDirectory, lab, options.WaitForLock, progress.Report, cancellationToken);

    public Task<UpResult> UpAsync(LabDefinition lab, CancellationToken cancellationToken) =>
        UpAsync(lab, new UpOptions(), cancellationToken);

    public async Task<UpResult> UpAsync(LabDefinition lab, UpOptions up, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab up");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var labLock = await LockAsync(lab.Name, cancellationToken);
        progress.Phase("lock", clock.Elapsed);
        clock.Restart();
        if (lab.Engine == LabEngine.Lxd)
            return await UpOnLxdAsync(lab, up, cancellationToken);
        await PreflightAsync(lab, cancellationToken);
        progress.Phase("preflight", clock.Elapsed);
        clock.Restart();
        var pool = await new PoolOpener(host, options.StateDirectory).OpenAsync(options.Driver, cancellationToken);
        progress.Phase("pool", clock.Elapsed);
        var existing = Store.Load(lab.Name);
        if (existing?.Lxd is { } place)
            throw new SpawnlabException($"lab {lab.Name} is up on the LXD daemon of {place}; run `spawnlab down {lab.Name}` before bringing it up on this host");
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
        journal.Update(s =>
        {
            s.LabFile = lab.FilePath;
            s.Vars = (System.Text.Json.Nodes.JsonObject)lab.Vars.DeepClone();
        });
        Directory.CreateDirectory(Store.LogDirectory(lab.Name));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        CheckNameClashes(lab);
        await CheckHostClashesAsync(lab, journal.State, cancellationToken);
        await RemoveObsoleteAsync(lab, journal, pool, cancellationToken);
        progress.Phase("host checks", clock.Elapsed);

        clock.Restart();
        var images = new ImageStore(host.Shell, pool, progress);
        var imagePaths = new Dictionary<string, string>(StringComparer.Ordinal);
        // A network-booted VM has no image: its root is an empty disk.
        imagePaths[""] = "";
        foreach (var image in lab.Machines.Values.Where(m => m.HasImage).Select(m => m.Image).Distinct())
            imagePaths[image] = await images.EnsureAsync(lab.Images[image], lab.Images, cancellationToken);
        var accel = await ChooseAccelAsync(lab, imagePaths, pool, cancellationToken);
        progress.Phase("images", clock.Elapsed);

        clock.Restart();
        await UpNetworksAsync(lab, journal, up.Uplink, cancellationToken);
        progress.Phase("networks", clock.Elapsed);
        if (host.UserNamespacesUnavailable is { } reason && lab.Machines.Values.Any(m => m.PrivateUsers))
            progress.Report($"machines run as real root: {reason}");

        if (up.From is { } from && (!lab.Machines.TryGetValue(from.Machine, out var fromMachine) || fromMachine.Stages.All(s => s.Name != from.Stage)))
            throw new SpawnlabException($"--from {from.Machine}/{from.Stage}: lab {lab.Name} has no such machine and stage", exitCode: 2);

        var run = new LabRun(lab, pool, journal, up, imagePaths, Math.Max(1, up.Jobs ?? Environment.ProcessorCount * 4)) { Accel = accel };
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
    private Task RunMachineAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken) =>
        run.RunMachineAsync(machine, progress, async () =>
        {
            MachinePlan plan;
            try
            {
                plan = await run.InSlotAsync(() => PrepareMachineAsync(run, machine, cancellationToken), cancellationToken);
            }
            finally
            {
                // Machines that bind this one's root wait for it, whether or not it boots.
                run.RootReady(machine.Name).TrySetResult();
            }
            if (!await run.WaitForBootAsync(machine, progress, cancellationToken))
                return;
            foreach (var bind in machine.Binds.Where(b => b.Machine is not null))
                await run.RootReady(bind.Machine!).Task.WaitAsync(cancellationToken);
            var session = await run.InSlotAsync(async () =>
            {
                var booted = await BootAsync(run.Journal, plan.State, cancellationToken);
                await WaitForLeasesAsync(plan.State, cancellationToken);
                return booted;
            }, cancellationToken);
            if (await RunStagesAsync(run, plan, session, cancellationToken))
                progress.Machine(machine.Name, new MachineStep.Ready(plan.Cached == plan.Keys.Count && plan.Keys.Count > 0));
        });

    /// <summary>The stages the cache does not hold, each after what it waits for; false when one was skipped.</summary>
    private async Task<bool> RunStagesAsync(LabRun run, MachinePlan plan, MachineSession session, CancellationToken cancellationToken)
    {
        var machine = run.Lab.Machines[plan.State.Name];
        var runner = new StageRunner(host.Shell, new CheckRunner(host.Shell));
        if (!await run.RunStagesAsync(machine, plan.Cached, index => RunStageAsync(run, plan, runner, session, index, cancellationToken), progress, cancellationToken))
            return false;
        await plan.Snapshots.PruneAsync([.. plan.Keys.Prepend(plan.StartKey)], cancellationToken);
        return true;
    }

    private async Task<StoragePool> OpenPoolOfAsync(LabState lab, CancellationToken cancellationToken)
    {
        var opener = new PoolOpener(host, options.StateDirectory);
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

    /// <summary>The machines of the labs as `ls`, `graph` and `inventory` show them.</summary>
    public IReadOnlyList<MachineStatus> Statuses(IEnumerable<LabState> labs) => MachineStatus.Of(runtime, labs);

    /// <summary>As <see cref="Statuses"/>, with the address of each DHCP interface read from the machine's namespace.</summary>
    public Task<IReadOnlyList<MachineStatus>> StatusesWithLeasesAsync(IEnumerable<LabState> labs, CancellationToken cancellationToken) =>
        MachineStatus.WithLeasesAsync(host, runtime, labs, cancellationToken);

    /// <summary>The labs as an Ansible inventory, reaching each running machine through <paramref name="connection"/>.</summary>
    public async Task<Inventory> InventoryAsync(IReadOnlyList<LabState> labs, InventoryConnection connection, CancellationToken cancellationToken)
    {
        var machines = await StatusesWithLeasesAsync(labs, cancellationToken);
        return Inventory.Of(labs, machines, (_, machine) => runtime.SessionOf(machine) is { } session ? EnterCommand(session) : null, connection);
    }

    /// <summary>The command that runs a program inside the machine (the program and its arguments follow it); null for a VM, which no program of the host enters.</summary>
    private static IReadOnlyList<string>? EnterCommand(MachineSession session) =>
        session is VmSession ? null : session.Enter([]) is var command ? [command.Program, .. command.Arguments] : null;

    /// <summary>How to enter a running machine, for commands run inside it.</summary>
    public MachineSession SessionOf(LabState lab, MachineState machine) =>
        runtime.SessionOf(machine) is { } session
            ? session
            : throw new SpawnlabException($"machine {lab.Lab}/{machine.Name} is not running; `spawnlab up` starts it");
}
