using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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

public sealed record SpawnlabOptions(string StateDirectory, DriverChoice Driver = DriverChoice.Auto)
{
    public const string DefaultStateDirectory = "/var/lib/spawnlab";

    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When another command holds the lab: wait for it (true) or fail at once (--no-wait).</summary>
    public bool WaitForLock { get; init; } = true;

    public static string StateDirectoryFromEnvironment() =>
        Environment.GetEnvironmentVariable("SPAWNLAB_STATE_DIR") is { Length: > 0 } dir ? dir : DefaultStateDirectory;
}

/// <summary>Brings labs up and down, from the lab file and from the recorded state.</summary>
public sealed class LabController(IHostShell shell, SpawnlabOptions options, IProgressSink progress)
{
    private readonly IpTool _ip = new(shell);
    private readonly NftTool _nft = new(shell);
    private readonly MachineRuntime _runtime = new(shell);

    public StateStore Store { get; } = new(options.StateDirectory);

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
        journal.Update(s => s.LabFile = lab.FilePath);
        Directory.CreateDirectory(Store.LogDirectory(lab.Name));

        await CheckHostClashesAsync(lab, journal.State, cancellationToken);
        await RemoveObsoleteAsync(lab, journal, pool, cancellationToken);

        var images = new ImageStore(shell, pool, progress);
        var imagePaths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in lab.Machines.Values.Select(m => m.Image).Distinct())
            imagePaths[image] = await images.EnsureAsync(lab.Images[image], cancellationToken);

        await UpNetworksAsync(lab, journal, up.Uplink, cancellationToken);

        if (up.From is { } from && (!lab.Machines.TryGetValue(from.Machine, out var fromMachine) || fromMachine.Stages.All(s => s.Name != from.Stage)))
            throw new SpawnlabException($"--from {from.Machine}/{from.Stage}: lab {lab.Name} has no such machine and stage", exitCode: 2);

        var run = new LabRun(lab, pool, journal, up, imagePaths, Math.Max(1, up.Jobs ?? Environment.ProcessorCount * 4));
        foreach (var machine in lab.Machines.Values)
            run.BaseKeys[machine.Name] = BaseKey(lab, machine, imagePaths[machine.Image]);
        run.Keys = StageKeys.ComputeLab(lab, run.BaseKeys);

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
                run.Skip(machine, 0, $"skipped because {blocker} did not complete");
                progress.Machine(name, $"skipped: {blocker} did not complete");
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
                    run.Skip(machine, i, $"skipped because {stageBlocker} did not complete");
                    progress.Machine(name, $"stage {stage.Name} skipped: {stageBlocker} did not complete");
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
            progress.Machine(name, plan.Cached == plan.Keys.Count && plan.Keys.Count > 0 ? "ready (every stage cached)" : "ready");
        }
        catch (SpawnlabException e)
        {
            progress.Machine(name, "failed");
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
                case "inotify" when lab.Machines.Count * Doctor.HostDoctor.InotifyInstancesPerMachine > (int.TryParse(File.ReadAllText("/proc/sys/fs/inotify/max_user_instances").Trim(), out var limit) ? limit : 0):
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

    private async Task CheckHostClashesAsync(LabDefinition lab, LabState state, CancellationToken cancellationToken)
    {
        var ours = state.Networks.Values.Select(n => n.Bridge).ToHashSet(StringComparer.Ordinal);
        foreach (var (iface, cidr) in await _ip.HostAddressesAsync(cancellationToken))
        {
            if (ours.Contains(iface) || iface == "lo")
                continue;
            var address = IPAddress.Parse(cidr[..cidr.IndexOf('/')]);
            var hostNetwork = IPNetwork.Parse($"{LabParser.Mask(address, int.Parse(cidr[(cidr.IndexOf('/') + 1)..]))}/{cidr[(cidr.IndexOf('/') + 1)..]}");
            foreach (var network in lab.Networks.Values)
            {
                if (network.Subnet.Contains(address) || hostNetwork.Contains(network.Subnet.BaseAddress))
                    throw new SpawnlabException(
                        $"network '{network.Name}' of lab {lab.Name}: subnet {network.Subnet} clashes with {cidr} on host interface {iface}; choose another subnet");
            }
        }
    }

    /// <summary>Runs the network's dnsmasq, restarting it when its configuration changed; it is a recorded process of the lab.</summary>
    private async Task EnsureDnsmasqAsync(LabDefinition lab, NetworkDefinition network, StateJournal journal, CancellationToken cancellationToken)
    {
        var directory = Store.LabDirectory(lab.Name);
        var confFile = Path.Combine(directory, $"dnsmasq-{network.Name}.conf");
        var hostsFile = Path.Combine(directory, "hosts");
        var config = DnsmasqConfig.For(lab, network, HostNames.Bridge(lab.Name, network.Name), Path.Combine(directory, $"dnsmasq-{network.Name}.leases"), hostsFile);
        await File.WriteAllTextAsync(hostsFile, DnsmasqConfig.Hosts(lab), cancellationToken);
        var state = journal.State.Networks[network.Name];
        var running = state.Dnsmasq is { IsAlive: true } process ? process : null;
        if (running is not null && File.Exists(confFile) && await File.ReadAllTextAsync(confFile, cancellationToken) == config)
            return;
        if (running is not null)
        {
            running.Signal(HostProcess.SigTerm);
            await running.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        }
        await File.WriteAllTextAsync(confFile, config, cancellationToken);
        var started = await DetachedProcess.StartAsync(shell, "dnsmasq", ["--keep-in-foreground", $"--conf-file={confFile}", "--log-facility=-"],
            Path.Combine(Store.LogDirectory(lab.Name), $"dnsmasq-{network.Name}.log"), cancellationToken);
        journal.Record(new HostObject(HostObjectKind.Process, started.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) { StartTicks = started.StartTicks });
        journal.Update(_ => state.Dnsmasq = started);
        progress.Report($"dnsmasq serves DHCP and DNS on network {network.Name} (pid {started.Pid})");
    }

    private async Task UpNetworksAsync(LabDefinition lab, StateJournal journal, string? uplinkOverride, CancellationToken cancellationToken)
    {
        var natRules = new List<(string, string)>();
        foreach (var network in lab.Networks.Values)
        {
            var bridge = HostNames.Bridge(lab.Name, network.Name);
            string? uplink = null;
            if (network.Nat)
            {
                uplink = uplinkOverride ?? network.Uplink ?? await _ip.DefaultRouteInterfaceAsync(cancellationToken)
                    ?? throw new SpawnlabException($"network '{network.Name}' asks for NAT but the host has no default route; set 'uplink:' to the interface to masquerade towards");
                natRules.Add((network.Subnet.ToString(), uplink));
            }
            var hostCidr = network.Host is { } host ? $"{host}/{network.Subnet.PrefixLength}" : null;
            journal.Update(s => s.Networks[network.Name] = new NetworkState
            {
                Name = network.Name,
                Bridge = bridge,
                Subnet = network.Subnet.ToString(),
                HostAddress = hostCidr,
                Nat = network.Nat,
                Uplink = uplink,
                Dhcp = network.Dhcp,
                Dnsmasq = s.Networks.GetValueOrDefault(network.Name)?.Dnsmasq,
            });
            var obj = new HostObject(HostObjectKind.Bridge, bridge);
            if (journal.State.Has(obj) && await _ip.LinkExistsAsync(bridge, cancellationToken))
                continue;
            if (!journal.State.Has(obj) && await _ip.LinkExistsAsync(bridge, cancellationToken))
                throw new SpawnlabException($"interface {bridge} exists but lab {lab.Name} did not make it; refusing to take it over");
            journal.Record(obj);
            await _ip.CreateBridgeAsync(bridge, HostNames.BridgeMac(lab.Name, network.Name), hostCidr, cancellationToken);
        }
        foreach (var network in lab.Networks.Values.Where(n => n.Dhcp))
            await EnsureDnsmasqAsync(lab, network, journal, cancellationToken);
        var table = HostNames.NftTable(lab.Name);
        if (natRules.Count > 0)
            await File.WriteAllTextAsync("/proc/sys/net/ipv4/ip_forward", "1", cancellationToken);
        if (lab.Networks.Count > 0)
        {
            journal.Record(new HostObject(HostObjectKind.NftTable, table));
            await _nft.ApplyAsync(table, natRules,
                [.. lab.Networks.Values.Select(n => (HostNames.Bridge(lab.Name, n.Name), HostNames.BridgeMac(lab.Name, n.Name)))], cancellationToken);
        }
    }

    private static string BaseKey(LabDefinition lab, MachineDefinition machine, string image) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Path.GetFileName(image)}/{ConfigHash(lab, machine, image)}")))[..24];

    /// <summary>A machine's state, netns and root, made or put back to the longest prefix of stages the cache holds.</summary>
    private async Task<MachinePlan> PrepareMachineAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken)
    {
        var (lab, pool, journal, image) = (run.Lab, run.Pool, run.Journal, run.ImagePaths[machine.Image]);
        var config = ConfigHash(lab, machine, image);
        var known = journal.State.Machines.GetValueOrDefault(machine.Name);
        if (known is not null && known.Config != config)
        {
            progress.Machine(machine.Name, "definition changed: recreating");
            await RemoveMachineAsync(journal, pool, known, cancellationToken);
            known = null;
        }
        var state = known ?? NewMachineState(lab, machine, image, pool, config);
        journal.Update(s =>
        {
            s.Machines[machine.Name] = state;
            state.NspawnArguments = [.. NspawnArguments.For(machine, HostNames.MachineUnitName(lab.Name, machine.Name), state.Root, state.Namespace,
                NspawnArguments.HostHasSystemd(), bind => pool.MachineRoot(lab.Name, bind))];
        });
        await EnsureNamespaceAsync(lab, journal, state, cancellationToken);
        if (machine.Forward)
            await _ip.EnableForwardingAsync(state.Namespace, cancellationToken);

        // The longest prefix of stages whose snapshots exist is kept; the rest runs again.
        var keys = run.Keys[machine.Name];
        var startKey = StageKeys.Start(lab, machine.Name, run.BaseKeys[machine.Name], run.Keys);
        var snapshots = new SnapshotStore(pool, journal, lab.Name, machine.Name);
        var cached = 0;
        while (cached < keys.Count && snapshots.Exists(keys[cached]))
            cached++;
        if (run.Options.NoCache)
            cached = 0;
        if (run.Options.From is { } from && from.Machine == machine.Name)
            cached = Math.Min(cached, machine.Stages.ToList().FindIndex(s => s.Name == from.Stage));
        var target = cached == 0 ? startKey : keys[cached - 1];

        journal.Update(_ =>
        {
            var previous = state.Stages.ToDictionary(r => r.Key, StringComparer.Ordinal);
            state.BaseKey = startKey;
            state.Stages = [.. machine.Stages.Select((stage, i) =>
                i < cached && previous.TryGetValue(keys[i], out var old)
                    ? new StageRecord { Name = stage.Name, Key = keys[i], Status = StageStatus.Cached, StartedAt = old.StartedAt, EndedAt = old.EndedAt, SnapshotAt = old.SnapshotAt, Checks = [.. stage.Checks], After = [.. Dependencies(machine, i)] }
                    : new StageRecord { Name = stage.Name, Key = keys[i], Status = i < cached ? StageStatus.Cached : StageStatus.Pending, Checks = [.. stage.Checks], After = [.. Dependencies(machine, i)] })];
        });

        // The fresh root (image, machine-id, hostname, network files) is kept as a snapshot of its own, under the
        // start key, so that going back before the first stage is a restore like any other.
        var root = new HostObject(HostObjectKind.Root, state.Root);
        var rootExists = journal.State.Has(root) && Directory.Exists(state.Root);
        if (rootExists && state.RootAt == target)
            return new MachinePlan(state, keys, cached, snapshots, startKey);

        progress.Machine(machine.Name, !rootExists ? "cloning" : cached == 0 ? "restoring the fresh root" : $"restoring stage {machine.Stages[cached - 1].Name}");
        if (rootExists)
            await StopMachineAsync(journal, state, cancellationToken, discardingRoot: true);
        journal.Update(_ => state.RootAt = null);
        journal.Record(root);
        if (cached == 0 && !snapshots.Exists(startKey))
        {
            await snapshots.RestoreAsync(image, state.Root, cancellationToken);
            PersonalizeRoot(state.Root, machine, lab);
            if (machine.RootPasswordFile is { } passwordFile)
                await SetRootPasswordAsync(state.Root, passwordFile, cancellationToken);
            await snapshots.CreateAsync(state.Root, startKey, cancellationToken);
        }
        else
        {
            await snapshots.RestoreAsync(snapshots.PathOf(target), state.Root, cancellationToken);
        }
        journal.Update(_ => state.RootAt = target);
        return new MachinePlan(state, keys, cached, snapshots, startKey);
    }

    /// <summary>What a stage waits for, as recorded for lab-wide rollback: the machine's own `after:` for its first stage.</summary>
    private static IEnumerable<string> Dependencies(MachineDefinition machine, int index) =>
        (index == 0 ? machine.After : []).Concat(machine.Stages[index].After).Select(r => r.ToString());

    private async Task RunStageAsync(LabRun run, MachinePlan plan, StageRunner runner, int leader, int index, CancellationToken cancellationToken)
    {
        var (lab, journal, state) = (run.Lab, run.Journal, plan.State);
        var machine = lab.Machines[state.Name];
        var stage = machine.Stages[index];
        var record = state.Stages[index];
        var log = StageLog(lab.Name, machine.Name, index, stage.Name);
        progress.Machine(machine.Name, $"stage {stage.Name} ({index + 1}/{plan.Keys.Count})");
        journal.Update(_ =>
        {
            state.RootAt = null;
            record.StartedAt = DateTimeOffset.UtcNow;
            record.EndedAt = null;
        });
        IReadOnlyList<CheckResult> results;
        try
        {
            results = await runner.RunAsync(new StageContext(lab, machine.Name, state.Root, leader), stage, log, cancellationToken);
        }
        catch (Exception e) when (e is SpawnlabException or OperationCanceledException)
        {
            journal.Update(_ =>
            {
                record.Status = StageStatus.Failed;
                record.EndedAt = DateTimeOffset.UtcNow;
            });
            run.Skip(machine, index, $"stage {stage.Name} failed");
            throw;
        }
        run.AddChecks(results);
        if (results.FirstOrDefault(r => r.Outcome == CheckOutcome.Failed) is { } failed)
        {
            journal.Update(_ =>
            {
                record.Status = StageStatus.Failed;
                record.EndedAt = DateTimeOffset.UtcNow;
            });
            run.Skip(machine, index + 1, $"stage {stage.Name} failed");
            throw new StageFailedException(machine.Name, stage.Name, $"check '{failed.Name}'",
                $"{failed.Message}{Environment.NewLine}the stage's log ({log}) ends with:{Environment.NewLine}{MachineRuntime.LogTail(log)}");
        }
        await plan.Snapshots.CreateAsync(state.Root, plan.Keys[index], cancellationToken);
        journal.Update(_ =>
        {
            record.Status = StageStatus.Ran;
            record.EndedAt = record.SnapshotAt = DateTimeOffset.UtcNow;
            state.RootAt = plan.Keys[index];
        });
    }

    /// <summary>A machine that takes DHCP leases is ready once each of those interfaces has an address.</summary>
    private async Task WaitForLeasesAsync(MachineState state, CancellationToken cancellationToken)
    {
        foreach (var iface in state.Interfaces.Where(i => i.Dhcp))
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(options.BootTimeout);
            try
            {
                while (await _ip.NamespaceAddressAsync(state.Namespace, iface.Name, deadline.Token) is null)
                    await Task.Delay(100, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new SpawnlabException(
                    $"machine {state.Name} got no DHCP lease on {iface.Name} within {options.BootTimeout.TotalSeconds:0} s: is a DHCP server on network {iface.Network} (the host with 'dhcp: true', or a machine this one waits for with 'after:')?");
            }
        }
    }

    public string StageLog(string lab, string machine, int index, string stage) =>
        Path.Combine(Store.LogDirectory(lab), machine, $"{index + 1:00}-{stage}.log");

    private async Task EnsureNamespaceAsync(LabDefinition lab, StateJournal journal, MachineState state, CancellationToken cancellationToken)
    {
        var netns = new HostObject(HostObjectKind.NetworkNamespace, state.Namespace);
        if (journal.State.Has(netns) && await _ip.NamespaceExistsAsync(state.Namespace, cancellationToken))
            return;
        if (!journal.State.Has(netns) && await _ip.NamespaceExistsAsync(state.Namespace, cancellationToken))
            throw new SpawnlabException($"network namespace {state.Namespace} exists but lab {lab.Name} did not make it; refusing to take it over");
        journal.Record(netns);
        progress.Machine(state.Name, "wiring");
        await _ip.CreateNamespaceAsync(state.Namespace, cancellationToken);
        foreach (var iface in state.Interfaces)
        {
            await _ip.CreateVethIntoAsync(iface.HostVeth, journal.State.Networks[iface.Network].Bridge, state.Namespace,
                iface.Name, iface.Mac, iface.Address, iface.Gateway, cancellationToken);
        }
    }

    /// <summary>Boots the machine unless it runs already, and waits until it is ready; returns its PID 1.</summary>
    private async Task<int> BootAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken)
    {
        if (state.Process is { IsAlive: true } running)
            return await _runtime.WaitUntilReadyAsync(state.Name, running, state.LogFile, options.BootTimeout, cancellationToken);
        progress.Machine(state.Name, "booting");
        Directory.CreateDirectory(Path.GetDirectoryName(state.LogFile)!);
        File.AppendAllText(state.LogFile, $"--- {DateTimeOffset.Now:O} systemd-nspawn {string.Join(' ', state.NspawnArguments)}{Environment.NewLine}");
        var process = await _runtime.SpawnDetachedAsync(state.NspawnArguments, state.LogFile, cancellationToken);
        journal.Update(_ =>
        {
            state.Pid = process.Pid;
            state.StartTicks = process.StartTicks;
        });
        return await _runtime.WaitUntilReadyAsync(state.Name, process, state.LogFile, options.BootTimeout, cancellationToken);
    }

    /// <summary>Stops a machine; with <paramref name="discardingRoot"/> it is killed at once, since its root goes anyway.</summary>
    private async Task StopMachineAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken, bool discardingRoot = false)
    {
        if (state.Process is { } process)
            await MachineRuntime.StopAsync(process, discardingRoot ? TimeSpan.Zero : options.StopTimeout, cancellationToken);
        journal.Update(_ =>
        {
            state.Pid = null;
            state.StartTicks = null;
        });
    }

    /// <summary>
    /// Puts a machine back to just after one of its stages and restarts it: later stages become pending.
    /// On btrfs this takes constant time whatever the size of the root.
    /// </summary>
    public async Task RestoreAsync(string reference, string stage, CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab restore");
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
        HostUser.RequireRoot("spawnlab rollback");
        var slash = reference.LastIndexOf('/');
        if (slash <= 0)
            throw new SpawnlabException($"'{reference}': expected MACHINE/STAGE or LAB/MACHINE/STAGE", exitCode: 2);
        using var labLock = await LockAsync(FindMachine(reference[..slash]).Lab.Lab, cancellationToken);
        var (lab, machine) = FindMachine(reference[..slash]);
        var stage = reference[(slash + 1)..];
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
        progress.Machine(machine.Name, FormattableString.Invariant(
            $"root restored to {what} in {(clock.Elapsed - stopped).TotalMilliseconds:0} ms (machine stopped in {stopped.TotalMilliseconds:0} ms)"));
        journal.Update(_ =>
        {
            machine.RootAt = key;
            foreach (var later in machine.Stages.Skip(index + 1))
                later.Status = StageStatus.Pending;
        });
        await BootAsync(journal, machine, cancellationToken);
        await WaitForLeasesAsync(machine, cancellationToken);
        progress.Machine(machine.Name, "ready");
    }

    /// <summary>Reruns the checks of every stage that a machine has passed, without running any stage.</summary>
    public async Task<IReadOnlyList<CheckResult>> TestAsync(string? reference, CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab test");
        var machines = reference is null
            ? Store.LoadAll().SelectMany(l => l.Machines.Values.Select(m => (Lab: l, Machine: m))).ToList()
            : [FindMachine(reference)];
        var runner = new CheckRunner(shell);
        var results = await Task.WhenAll(machines.Select(async pair =>
        {
            var (lab, machine) = pair;
            var list = new List<CheckResult>();
            var leader = machine.Process is { } p && MachineRuntime.Leader(p) is { } l ? l : (int?)null;
            foreach (var stage in machine.Stages)
            {
                foreach (var check in stage.Checks)
                {
                    if (leader is null)
                        list.Add(CheckResult.Skipped(lab.Lab, machine.Name, stage.Name, check, "machine is not running"));
                    else if (stage.Status is StageStatus.Pending or StageStatus.Failed)
                        list.Add(CheckResult.Skipped(lab.Lab, machine.Name, stage.Name, check, $"stage {stage.Name} is {stage.Status.ToString().ToLowerInvariant()}"));
                    else
                        list.Add(await runner.RunAsync(lab.Lab, machine.Name, stage.Name, leader.Value, check, cancellationToken));
                }
            }
            return list;
        }));
        return [.. results.SelectMany(r => r)];
    }

    private async Task<StoragePool> OpenPoolOfAsync(LabState lab, CancellationToken cancellationToken)
    {
        var opener = new PoolOpener(shell, options.StateDirectory);
        return opener.Existing() is { } existing && existing.Root == lab.PoolPath
            ? await opener.OpenAsync(DriverChoice.Auto, cancellationToken)
            : throw new SpawnlabException($"the pool of lab {lab.Lab} ({lab.PoolPath}) is not the pool of {options.StateDirectory}");
    }

    private MachineState NewMachineState(LabDefinition lab, MachineDefinition machine, string image, StoragePool pool, string config) => new()
    {
        Name = machine.Name,
        Image = image,
        Config = config,
        Root = pool.MachineRoot(lab.Name, machine.Name),
        Namespace = HostNames.Namespace(lab.Name, machine.Name),
        LogFile = Path.Combine(Store.LogDirectory(lab.Name), $"{machine.Name}.boot.log"),
        Interfaces = machine.Interfaces.Select(i => new InterfaceState
        {
            Network = i.Network,
            Name = i.Network,
            HostVeth = HostNames.HostVeth(lab.Name, machine.Name, i.Network),
            Mac = HostNames.Mac(lab.Name, machine.Name, i.Network),
            Address = i.Dhcp ? null : i.Cidr,
            Gateway = i.Gateway?.ToString(),
            Dhcp = i.Dhcp,
            FixedLease = i.Dhcp ? i.Address?.ToString() : null,
        }).ToList(),
    };

    /// <summary>What the running machine was made from; when it changes, the machine is made again.</summary>
    private static string ConfigHash(LabDefinition lab, MachineDefinition machine, string image)
    {
        var json = JsonSerializer.Serialize(new
        {
            image,
            machine.Binds,
            machine.Tmpfs,
            machine.ReadOnlyRoot,
            machine.Forward,
            // A new password makes a new machine; only a hash of it enters the configuration's hash.
            Password = machine.RootPasswordFile is { } file ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))) : null,
            Interfaces = machine.Interfaces.Select(i => new { i.Network, i.Cidr, Gateway = i.Gateway?.ToString(), i.Dhcp, Subnet = lab.Networks[i.Network].Subnet.ToString() }),
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];
    }

    /// <summary>
    /// A fresh machine-id, the machine's hostname and hosts file, and its resolver, written into its new root.
    /// A machine that takes DHCP leases gets systemd-networkd (matching its interfaces by MAC) and systemd-resolved
    /// for the DNS servers the lease names.
    /// </summary>
    private static void PersonalizeRoot(string root, MachineDefinition machine, LabDefinition lab)
    {
        string At(string path) => Path.Combine(root, path);
        File.WriteAllText(At("etc/machine-id"), Guid.NewGuid().ToString("N") + "\n");
        File.WriteAllText(At("etc/hostname"), machine.Name + "\n");
        var hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        // Its own name: its first static address, or 127.0.1.1 (Debian's way) when it has none.
        var own = machine.Interfaces.FirstOrDefault(i => i.Address is not null && !i.Dhcp)?.Address?.ToString() ?? "127.0.1.1";
        hosts.Append($"{own}\t{machine.Name}.{lab.Name} {machine.Name}\n");
        foreach (var other in lab.Machines.Values.Where(m => m.Name != machine.Name))
        {
            foreach (var iface in other.Interfaces.Where(i => i.Address is not null))
                hosts.Append($"{iface.Address}\t{other.Name}.{lab.Name} {other.Name}\n");
        }
        File.WriteAllText(At("etc/hosts"), hosts.ToString());

        File.Delete(At("etc/resolv.conf"));
        if (machine.UsesDhcp)
        {
            Directory.CreateDirectory(At("etc/systemd/network"));
            foreach (var iface in machine.Interfaces.Where(i => i.Dhcp))
            {
                File.WriteAllText(At($"etc/systemd/network/50-spawnlab-{iface.Network}.network"), $"""
                    # Written by Spawnlab: network {iface.Network} of lab {lab.Name}
                    [Match]
                    MACAddress={HostNames.Mac(lab.Name, machine.Name, iface.Network)}

                    [Network]
                    DHCP=ipv4
                    LinkLocalAddressing=no
                    IPv6AcceptRA=no

                    [DHCPv4]
                    UseDomains=yes

                    """);
            }
            foreach (var (link, target) in new[]
            {
                ("etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"),
                ("etc/systemd/system/sockets.target.wants/systemd-networkd.socket", "/lib/systemd/system/systemd-networkd.socket"),
                ("etc/systemd/system/dbus-org.freedesktop.network1.service", "/lib/systemd/system/systemd-networkd.service"),
                ("etc/systemd/system/multi-user.target.wants/systemd-resolved.service", "/lib/systemd/system/systemd-resolved.service"),
                ("etc/systemd/system/dbus-org.freedesktop.resolve1.service", "/lib/systemd/system/systemd-resolved.service"),
                ("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"),
            })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(At(link))!);
                File.Delete(At(link));
                File.CreateSymbolicLink(At(link), target);
            }
        }
        else
        {
            // The host's DNS server of a network with 'dhcp: true' answers for the lab's names; otherwise /etc/hosts does.
            var resolvers = machine.Interfaces.Select(i => lab.Networks[i.Network]).Where(n => n.Dhcp && n.Host is not null).Select(n => n.Host!).ToList();
            File.WriteAllText(At("etc/resolv.conf"), string.Concat(resolvers.Select(r => $"nameserver {r}\n")) + (resolvers.Count > 0 ? $"search {lab.Name}\n" : ""));
        }
    }

    /// <summary>Sets root's password from the lab's file; it goes to chpasswd on stdin and is never in a command line, a log or the state.</summary>
    private async Task SetRootPasswordAsync(string root, string passwordFile, CancellationToken cancellationToken)
    {
        var password = (await File.ReadAllTextAsync(passwordFile, cancellationToken)).TrimEnd('\n', '\r');
        if (password.Length == 0 || password.Contains('\n') || password.Contains(':'))
            throw new SpawnlabException($"{passwordFile}: expected one line holding the password, without ':'");
        await shell.RunAsync(HostCommand.Of("chpasswd", "--root", root).WithStandardInput($"root:{password}\n"), cancellationToken);
    }

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
        foreach (var obj in Enumerable.Reverse(state.Objects.ToList()))
            await RemoveObjectAsync(journal, pool, obj, cancellationToken);
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
    private static List<HostProcess> StrayMachines(LabState lab)
    {
        var recorded = lab.Machines.Values.Select(m => m.Pid).OfType<int>().ToHashSet();
        var units = lab.Machines.Keys.Select(m => $"--machine={HostNames.MachineUnitName(lab.Lab, m)}").ToHashSet(StringComparer.Ordinal);
        var strays = new List<HostProcess>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || recorded.Contains(pid))
                continue;
            try
            {
                var arguments = File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0');
                if (arguments[0].EndsWith("systemd-nspawn", StringComparison.Ordinal) && arguments.Any(units.Contains)
                    && HostProcess.Find(pid) is { IsAlive: true } process)
                    strays.Add(process);
            }
            catch (IOException)
            {
            }
        }
        return strays;
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
            _ => throw new SpawnlabException($"machine name {reference} is ambiguous; say which lab: {string.Join(", ", matches.Select(m => $"{m.l.Lab}/{m.m.Name}"))}"),
        };
    }

    /// <summary>The PID 1 of a running machine, for commands run inside it.</summary>
    public static int LeaderOf(LabState lab, MachineState machine) =>
        machine.Process is { } process && MachineRuntime.Leader(process) is { } leader
            ? leader
            : throw new SpawnlabException($"machine {lab.Lab}/{machine.Name} is not running; `spawnlab up` starts it");
}
