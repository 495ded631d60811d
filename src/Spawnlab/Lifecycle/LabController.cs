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

    public Task<UpResult> UpAsync(LabDefinition lab, CancellationToken cancellationToken) =>
        UpAsync(lab, new UpOptions(), cancellationToken);

    public async Task<UpResult> UpAsync(LabDefinition lab, UpOptions up, CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab up");
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

        await UpNetworksAsync(lab, journal, cancellationToken);

        if (up.From is { } from && (!lab.Machines.TryGetValue(from.Machine, out var fromMachine) || fromMachine.Stages.All(s => s.Name != from.Stage)))
            throw new SpawnlabException($"--from {from.Machine}/{from.Stage}: lab {lab.Name} has no such machine and stage", exitCode: 2);

        var outcomes = await Task.WhenAll(lab.Machines.Values.Select(async machine =>
        {
            var checks = new List<CheckResult>();
            try
            {
                await UpMachineAsync(lab, machine, imagePaths[machine.Image], pool, journal, up, checks, cancellationToken);
                return (Failure: (string?)null, Checks: checks);
            }
            catch (SpawnlabException e)
            {
                progress.Machine(machine.Name, "failed");
                return (Failure: $"{machine.Name}: {e.Message}", Checks: checks);
            }
        }));
        return new UpResult(journal.State, [.. outcomes.SelectMany(o => o.Checks)], [.. outcomes.Select(o => o.Failure).OfType<string>()]);
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

    private async Task UpNetworksAsync(LabDefinition lab, StateJournal journal, CancellationToken cancellationToken)
    {
        var natRules = new List<(string, string)>();
        foreach (var network in lab.Networks.Values)
        {
            var bridge = HostNames.Bridge(lab.Name, network.Name);
            string? uplink = null;
            if (network.Nat)
            {
                uplink = network.Uplink ?? await _ip.DefaultRouteInterfaceAsync(cancellationToken)
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
            });
            var obj = new HostObject(HostObjectKind.Bridge, bridge);
            if (journal.State.Has(obj) && await _ip.LinkExistsAsync(bridge, cancellationToken))
                continue;
            if (!journal.State.Has(obj) && await _ip.LinkExistsAsync(bridge, cancellationToken))
                throw new SpawnlabException($"interface {bridge} exists but lab {lab.Name} did not make it; refusing to take it over");
            journal.Record(obj);
            await _ip.CreateBridgeAsync(bridge, hostCidr, cancellationToken);
        }
        var table = HostNames.NftTable(lab.Name);
        if (natRules.Count > 0)
        {
            await File.WriteAllTextAsync("/proc/sys/net/ipv4/ip_forward", "1", cancellationToken);
            journal.Record(new HostObject(HostObjectKind.NftTable, table));
            await _nft.ApplyNatAsync(table, natRules, cancellationToken);
        }
    }

    private async Task UpMachineAsync(
        LabDefinition lab, MachineDefinition machine, string image, StoragePool pool, StateJournal journal,
        UpOptions up, List<CheckResult> checks, CancellationToken cancellationToken)
    {
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
            state.NspawnArguments = [.. NspawnArguments.For(machine, HostNames.MachineUnitName(lab.Name, machine.Name), state.Root, state.Namespace, NspawnArguments.HostHasSystemd())];
        });
        await EnsureNamespaceAsync(lab, journal, state, cancellationToken);

        // The longest prefix of stages whose snapshots exist is kept; the rest runs again.
        var baseKey = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Path.GetFileName(image)}/{config}")))[..24];
        var keys = StageKeys.Compute(baseKey, machine.Stages);
        var snapshots = new SnapshotStore(pool, journal, lab.Name, machine.Name);
        var cached = 0;
        while (cached < keys.Count && snapshots.Exists(keys[cached]))
            cached++;
        if (up.NoCache)
            cached = 0;
        if (up.From is { } from && from.Machine == machine.Name)
            cached = Math.Min(cached, machine.Stages.ToList().FindIndex(s => s.Name == from.Stage));
        var target = cached == 0 ? baseKey : keys[cached - 1];
        var source = cached == 0 ? image : snapshots.PathOf(target);

        journal.Update(_ =>
        {
            var previous = state.Stages.ToDictionary(r => r.Key, StringComparer.Ordinal);
            state.BaseKey = baseKey;
            state.Stages = [.. machine.Stages.Select((stage, i) =>
                i < cached && previous.TryGetValue(keys[i], out var old)
                    ? new StageRecord { Name = stage.Name, Key = keys[i], Status = StageStatus.Cached, StartedAt = old.StartedAt, EndedAt = old.EndedAt, SnapshotAt = old.SnapshotAt, Checks = [.. stage.Checks] }
                    : new StageRecord { Name = stage.Name, Key = keys[i], Status = i < cached ? StageStatus.Cached : StageStatus.Pending, Checks = [.. stage.Checks] })];
        });

        var root = new HostObject(HostObjectKind.Root, state.Root);
        if (!journal.State.Has(root) || !Directory.Exists(state.Root))
        {
            journal.Record(root);
            progress.Machine(machine.Name, "cloning");
            await pool.DeleteAsync(state.Root, cancellationToken);
            Directory.CreateDirectory(Path.GetDirectoryName(state.Root)!);
            await pool.Driver.CloneAsync(source, state.Root, readOnly: false, cancellationToken);
            if (cached == 0)
                PersonalizeRoot(state.Root, machine, lab);
            journal.Update(_ => state.RootAt = target);
        }
        else if (state.RootAt != target)
        {
            progress.Machine(machine.Name, cached == 0 ? "restoring the image" : $"restoring stage {machine.Stages[cached - 1].Name}");
            await StopMachineAsync(journal, state, cancellationToken);
            journal.Update(_ => state.RootAt = null);
            await snapshots.RestoreAsync(source, state.Root, cancellationToken);
            if (cached == 0)
                PersonalizeRoot(state.Root, machine, lab);
            journal.Update(_ => state.RootAt = target);
        }

        var leader = await BootAsync(journal, state, cancellationToken);
        var runner = new StageRunner(shell, new CheckRunner(shell));
        for (var i = cached; i < keys.Count; i++)
        {
            var stage = machine.Stages[i];
            var record = state.Stages[i];
            progress.Machine(machine.Name, $"stage {stage.Name} ({i + 1}/{keys.Count})");
            journal.Update(_ =>
            {
                state.RootAt = null;
                record.StartedAt = DateTimeOffset.UtcNow;
            });
            IReadOnlyList<CheckResult> results;
            try
            {
                results = await runner.RunAsync(new StageContext(lab, machine.Name, state.Root, leader), stage, StageLog(lab.Name, machine.Name, i, stage.Name), cancellationToken);
            }
            catch (Exception e) when (e is SpawnlabException or OperationCanceledException)
            {
                journal.Update(_ =>
                {
                    record.Status = StageStatus.Failed;
                    record.EndedAt = DateTimeOffset.UtcNow;
                });
                checks.AddRange(SkippedChecks(lab.Name, machine, i, $"stage {stage.Name} failed"));
                throw;
            }
            checks.AddRange(results);
            if (results.FirstOrDefault(r => r.Outcome == CheckOutcome.Failed) is { } failed)
            {
                journal.Update(_ =>
                {
                    record.Status = StageStatus.Failed;
                    record.EndedAt = DateTimeOffset.UtcNow;
                });
                checks.AddRange(SkippedChecks(lab.Name, machine, i + 1, $"stage {stage.Name} failed"));
                throw new StageFailedException(machine.Name, stage.Name, $"check '{failed.Name}'",
                    $"{failed.Message}{Environment.NewLine}the stage's log ({StageLog(lab.Name, machine.Name, i, stage.Name)}) ends with:{Environment.NewLine}{MachineRuntime.LogTail(StageLog(lab.Name, machine.Name, i, stage.Name))}");
            }
            await snapshots.CreateAsync(state.Root, keys[i], cancellationToken);
            journal.Update(_ =>
            {
                record.Status = StageStatus.Ran;
                record.EndedAt = record.SnapshotAt = DateTimeOffset.UtcNow;
                state.RootAt = keys[i];
            });
        }
        await snapshots.PruneAsync([.. keys], cancellationToken);
        progress.Machine(machine.Name, cached == keys.Count && keys.Count > 0 ? "ready (every stage cached)" : "ready");
    }

    private static IEnumerable<CheckResult> SkippedChecks(string lab, MachineDefinition machine, int fromStage, string reason) =>
        machine.Stages.Skip(fromStage).SelectMany(stage => stage.Checks.Select(check => CheckResult.Skipped(lab, machine.Name, stage.Name, check, reason)));

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

    private async Task StopMachineAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken)
    {
        if (state.Process is { } process)
            await MachineRuntime.StopAsync(process, options.StopTimeout, cancellationToken);
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
        var (lab, machine) = FindMachine(reference);
        var index = machine.Stages.FindIndex(s => s.Name == stage);
        if (index < 0)
            throw new SpawnlabException($"machine {lab.Lab}/{machine.Name} has no stage {stage}; its stages: {string.Join(", ", machine.Stages.Select(s => s.Name))}", exitCode: 2);
        var journal = new StateJournal(Store, lab);
        var pool = await OpenPoolOfAsync(lab, cancellationToken);
        var snapshots = new SnapshotStore(pool, journal, lab.Lab, machine.Name);
        var record = machine.Stages[index];
        if (!snapshots.Exists(record.Key))
            throw new SpawnlabException($"stage {stage} of {lab.Lab}/{machine.Name} has no snapshot (it is {record.Status.ToString().ToLowerInvariant()}); `spawnlab up` runs it");
        progress.Machine(machine.Name, "stopping");
        await StopMachineAsync(journal, machine, cancellationToken);
        journal.Update(_ => machine.RootAt = null);
        progress.Machine(machine.Name, $"restoring stage {stage}");
        await snapshots.RestoreAsync(snapshots.PathOf(record.Key), machine.Root, cancellationToken);
        journal.Update(_ =>
        {
            machine.RootAt = record.Key;
            foreach (var later in machine.Stages.Skip(index + 1))
                later.Status = StageStatus.Pending;
        });
        await BootAsync(journal, machine, cancellationToken);
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
            Address = i.Cidr,
            Gateway = i.Gateway?.ToString(),
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
            Interfaces = machine.Interfaces.Select(i => new { i.Network, i.Cidr, Gateway = i.Gateway?.ToString(), i.Dhcp, Subnet = lab.Networks[i.Network].Subnet.ToString() }),
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];
    }

    /// <summary>A fresh machine-id and the machine's hostname and hosts file, written into its new root.</summary>
    private static void PersonalizeRoot(string root, MachineDefinition machine, LabDefinition lab)
    {
        File.WriteAllText(Path.Combine(root, "etc/machine-id"), Guid.NewGuid().ToString("N") + "\n");
        File.WriteAllText(Path.Combine(root, "etc/hostname"), machine.Name + "\n");
        var hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        hosts.Append($"127.0.1.1\t{machine.Name}.{lab.Name} {machine.Name}\n");
        foreach (var other in lab.Machines.Values.Where(m => m.Name != machine.Name))
        {
            foreach (var iface in other.Interfaces.Where(i => i.Address is not null))
                hosts.Append($"{iface.Address}\t{other.Name}.{lab.Name} {other.Name}\n");
        }
        File.WriteAllText(Path.Combine(root, "etc/hosts"), hosts.ToString());
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
        await StopMachineAsync(journal, machine, cancellationToken);
        await new SnapshotStore(pool, journal, journal.State.Lab, machine.Name).PruneAsync([], cancellationToken);
        await RemoveObjectAsync(journal, pool, new HostObject(HostObjectKind.Root, machine.Root), cancellationToken);
        await RemoveObjectAsync(journal, pool, new HostObject(HostObjectKind.NetworkNamespace, machine.Namespace), cancellationToken);
        journal.Update(s => s.Machines.Remove(machine.Name));
    }

    /// <summary>Stops every machine of the lab and removes every object it recorded; the state goes last.</summary>
    public async Task DownAsync(string labName, bool purgeImages, CancellationToken cancellationToken)
    {
        HostUser.RequireRoot("spawnlab down");
        var state = Store.Load(labName) ?? throw new SpawnlabException($"no lab named {labName} is up (see `spawnlab ls`)");
        var journal = new StateJournal(Store, state);
        var pool = await OpenPoolOfAsync(state, cancellationToken);

        await Task.WhenAll(state.Machines.Values.Select(async machine =>
        {
            if (machine.Process is { } process)
            {
                progress.Machine(machine.Name, "stopping");
                await MachineRuntime.StopAsync(process, options.StopTimeout, cancellationToken);
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
