using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Spawnlab.Host;
using Spawnlab.Images;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Pool;
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

    public async Task<LabState> UpAsync(LabDefinition lab, CancellationToken cancellationToken)
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

        var results = await Task.WhenAll(lab.Machines.Values.Select(async machine =>
        {
            try
            {
                await UpMachineAsync(lab, machine, imagePaths[machine.Image], pool, journal, cancellationToken);
                return null;
            }
            catch (SpawnlabException e)
            {
                progress.Machine(machine.Name, "failed");
                return $"{machine.Name}: {e.Message}";
            }
        }));
        var failures = results.OfType<string>().ToList();
        if (failures.Count > 0)
            throw new SpawnlabException(
                $"{failures.Count} of {lab.Machines.Count} machines did not come up (the others are running; `spawnlab down {lab.Name}` removes them):{Environment.NewLine}"
                + string.Join(Environment.NewLine, failures));
        return journal.State;
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

    private async Task UpMachineAsync(LabDefinition lab, MachineDefinition machine, string image, StoragePool pool, StateJournal journal, CancellationToken cancellationToken)
    {
        var config = ConfigHash(lab, machine, image);
        var known = journal.State.Machines.GetValueOrDefault(machine.Name);
        if (known is not null && known.Config != config)
        {
            progress.Machine(machine.Name, "definition changed: recreating");
            await RemoveMachineAsync(journal, pool, known, cancellationToken);
            known = null;
        }
        if (known?.Process is { IsAlive: true } running)
        {
            progress.Machine(machine.Name, "booting");
            await _runtime.WaitUntilReadyAsync(machine.Name, running, known.LogFile, options.BootTimeout, cancellationToken);
            progress.Machine(machine.Name, "ready (already running)");
            return;
        }

        var state = known ?? NewMachineState(lab, machine, image, pool, config);
        journal.Update(s => s.Machines[machine.Name] = state);

        var netns = new HostObject(HostObjectKind.NetworkNamespace, state.Namespace);
        if (!journal.State.Has(netns) || !await _ip.NamespaceExistsAsync(state.Namespace, cancellationToken))
        {
            if (!journal.State.Has(netns) && await _ip.NamespaceExistsAsync(state.Namespace, cancellationToken))
                throw new SpawnlabException($"network namespace {state.Namespace} exists but lab {lab.Name} did not make it; refusing to take it over");
            journal.Record(netns);
            progress.Machine(machine.Name, "wiring");
            await _ip.CreateNamespaceAsync(state.Namespace, cancellationToken);
            foreach (var iface in state.Interfaces)
            {
                await _ip.CreateVethIntoAsync(iface.HostVeth, journal.State.Networks[iface.Network].Bridge, state.Namespace,
                    iface.Name, iface.Mac, iface.Address, iface.Gateway, cancellationToken);
            }
        }

        var root = new HostObject(HostObjectKind.Root, state.Root);
        if (!journal.State.Has(root) || !Directory.Exists(state.Root))
        {
            journal.Record(root);
            progress.Machine(machine.Name, "cloning");
            await pool.DeleteAsync(state.Root, cancellationToken);
            Directory.CreateDirectory(Path.GetDirectoryName(state.Root)!);
            await pool.Driver.CloneAsync(image, state.Root, readOnly: false, cancellationToken);
            PersonalizeRoot(state.Root, machine, lab);
        }

        progress.Machine(machine.Name, "booting");
        var unit = HostNames.MachineUnitName(lab.Name, machine.Name);
        var arguments = NspawnArguments.For(machine, unit, state.Root, state.Namespace, NspawnArguments.HostHasSystemd());
        File.AppendAllText(state.LogFile, $"--- {DateTimeOffset.Now:O} systemd-nspawn {string.Join(' ', arguments)}{Environment.NewLine}");
        var process = await _runtime.SpawnDetachedAsync(arguments, state.LogFile, cancellationToken);
        journal.Update(_ =>
        {
            state.Pid = process.Pid;
            state.StartTicks = process.StartTicks;
        });
        await _runtime.WaitUntilReadyAsync(machine.Name, process, state.LogFile, options.BootTimeout, cancellationToken);
        progress.Machine(machine.Name, "ready");
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
        if (machine.Process is { } process)
            await MachineRuntime.StopAsync(process, options.StopTimeout, cancellationToken);
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
        var opener = new PoolOpener(shell, options.StateDirectory);
        var pool = opener.Existing() is { } existing && existing.Root == state.PoolPath
            ? await opener.OpenAsync(DriverChoice.Auto, cancellationToken)
            : throw new SpawnlabException($"the pool of lab {labName} ({state.PoolPath}) is not the pool of {options.StateDirectory}");

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
