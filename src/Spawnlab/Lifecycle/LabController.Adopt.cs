using System.Text.RegularExpressions;
using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>
    /// Takes a lab down whatever became of its state: from its record if it reads; otherwise (the state file was
    /// deleted, truncated or edited beyond reading) from what the host holds under the lab's names, found as
    /// Spawnlab names them: its machines (roots in the pool, systemd-nspawn and QEMU processes of MACHINE.LAB), their
    /// network namespaces and cgroups, its nftables table, the bridges that table names with the MAC Spawnlab gave them
    /// and the VMs' taps on them, its dnsmasq processes, its snapshots. What another lab records is left alone. Running machines are killed.
    /// </summary>
    public async Task<IReadOnlyList<string>> ForceCleanAsync(string labName, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab clean --force");
        if (!Labs.LabParser.LabName().IsMatch(labName) || labName.Length > Labs.LabParser.MaxLabNameLength)
            throw new SpawnlabException($"'{labName}' is not a lab name", exitCode: 2);
        using var labLock = await LockAsync(labName, cancellationToken);
        LabState? state;
        try
        {
            state = Store.Load(labName);
        }
        catch (SpawnlabException e)
        {
            progress.Report($"{e.Message}: finding what lab {labName} left by its names");
            state = null;
        }
        var tableBridges = await TableBridgesAsync(labName, cancellationToken);
        if (state is null)
        {
            state = await AdoptAsync(labName, cancellationToken);
            if (state.Objects.Count == 0 && state.Machines.Count == 0 && tableBridges.Count == 0)
            {
                Store.Delete(labName);
                return await ForceCleanLxdAsync(labName, cancellationToken);
            }
            Store.Save(state);
        }
        var removed = state.Objects.Select(o => $"lab {labName}: {o}").ToList();
        await DownLockedAsync(labName, purgeImages: false, cancellationToken);
        // Bridges of networks whose names the host no longer tells: the lab's own table named them, with their MAC.
        foreach (var (bridge, mac) in tableBridges)
        {
            if (host.MacOf(bridge) == mac && Store.LoadAll().All(l => !l.Objects.Contains(new HostObject(HostObjectKind.Bridge, bridge))))
            {
                // The taps of the lab's VMs on it: a state that is lost no longer names them.
                foreach (var tap in await _ip.TapsOnAsync(bridge, cancellationToken))
                {
                    await _ip.DeleteLinkAsync(tap, cancellationToken);
                    removed.Add($"lab {labName}: tap {tap}");
                }
                await _ip.DeleteLinkAsync(bridge, cancellationToken);
                removed.Add($"lab {labName}: bridge {bridge}");
            }
        }
        removed.AddRange(await ForceCleanLxdAsync(labName, cancellationToken));
        return removed;
    }

    /// <summary>What the lab left on the default LXD daemon that no state records.</summary>
    private Task<IReadOnlyList<string>> ForceCleanLxdAsync(string labName, CancellationToken cancellationToken) =>
        new Lxd.LxdEngine(host, options, progress, Store).ForceCleanAsync(labName, Store.LoadAll().Where(l => l.Lab != labName).ToList(), cancellationToken);

    /// <summary>A record of what the host holds under the lab's names, as if the lab had recorded it.</summary>
    private async Task<LabState> AdoptAsync(string lab, CancellationToken cancellationToken)
    {
        var pool = new PoolOpener(host, options.StateDirectory).Existing() is { } existing
            ? await new PoolOpener(host, options.StateDirectory).OpenAsync(DriverChoice.Auto, cancellationToken)
            : null;
        var others = Store.LoadAll().Where(l => l.Lab != lab).ToList();
        bool OthersRecord(HostObject obj) => others.Any(l => l.Objects.Contains(obj));
        var state = new LabState { Lab = lab, PoolPath = pool?.Root ?? Path.Combine(options.StateDirectory, "pool"), Driver = pool?.Driver.Name ?? "dir" };

        AdoptMachines(state, pool, OthersRecord);
        // Snapshots, and their interrupted leftovers.
        var snapshots = pool is null ? null : Path.Combine(pool.LabDirectory(lab), "snapshots");
        if (snapshots is not null && Directory.Exists(snapshots))
        {
            foreach (var folder in Directory.EnumerateDirectories(snapshots).Where(d => new FileInfo(d).LinkTarget is null))
                state.Objects.AddRange(Directory.EnumerateDirectories(folder).Select(s => new HostObject(HostObjectKind.Root, s)));
        }
        // The lab's dnsmasq processes: their configuration is in the lab's state folder.
        foreach (var dnsmasq in host.Processes.Matching(arguments => Path.GetFileName(arguments[0]) == "dnsmasq"
            && arguments.Any(a => a.StartsWith($"--conf-file={Store.LabDirectory(lab)}/", StringComparison.Ordinal))))
        {
            state.Objects.Add(new HostObject(HostObjectKind.Process, dnsmasq.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) { StartTicks = dnsmasq.StartTicks });
        }
        var table = new HostObject(HostObjectKind.NftTable, HostNames.NftTable(lab));
        if (await _nft.TableExistsAsync(table.Name, cancellationToken) && !OthersRecord(table))
            state.Objects.Add(table);
        return state;
    }

    /// <summary>
    /// The lab's machines as the host shows them: their roots in the pool and the processes running MACHINE.LAB (a
    /// machine's name has no '.'), each with its cgroups, network namespace and root where they exist.
    /// </summary>
    private void AdoptMachines(LabState state, StoragePool? pool, Func<HostObject, bool> othersRecord)
    {
        var lab = state.Lab;
        var machines = new Dictionary<string, HostProcess?>(StringComparer.Ordinal);
        foreach (var (machine, process) in runtime.RunningOf(lab))
            machines[machine] = process;
        var machinesFolder = pool is null ? null : Path.Combine(pool.LabDirectory(lab), "machines");
        if (machinesFolder is not null && Directory.Exists(machinesFolder))
        {
            foreach (var root in Directory.EnumerateDirectories(machinesFolder).Where(d => new FileInfo(d).LinkTarget is null))
            {
                var name = Path.GetFileName(root);
                if (Leftovers.IsLeftover(root))
                    state.Objects.Add(new HostObject(HostObjectKind.Root, root));
                else if (Labs.LabParser.MachineName().IsMatch(name))
                    machines.TryAdd(name, null);
            }
        }
        foreach (var (name, process) in machines)
        {
            var machine = new MachineState
            {
                Name = name,
                Image = "",
                Config = "",
                Root = Path.Combine(machinesFolder ?? "", name),
                Namespace = HostNames.Namespace(lab, name),
                LogFile = Path.Combine(Store.LogDirectory(lab), $"{name}.boot.log"),
                Pid = process?.Pid,
                StartTicks = process?.StartTicks,
                Cgroups = [.. host.Cgroups.For(lab, name).Where(host.Cgroups.Exists)],
            };
            state.Machines[name] = machine;
            foreach (var obj in machine.Cgroups.Select(c => new HostObject(HostObjectKind.Cgroup, c))
                .Append(new HostObject(HostObjectKind.NetworkNamespace, machine.Namespace))
                .Append(new HostObject(HostObjectKind.Root, machine.Root)))
            {
                var exists = obj.Kind switch
                {
                    HostObjectKind.NetworkNamespace => host.NetworkNamespaceExists(obj.Name),
                    HostObjectKind.Root => machinesFolder is not null && Directory.Exists(obj.Name),
                    _ => true,
                };
                if (exists && !othersRecord(obj))
                    state.Objects.Add(obj);
            }
        }
    }

    /// <summary>The bridges the lab's nftables table names, with the MAC Spawnlab gave each (its rules name both).</summary>
    private async Task<List<(string Bridge, string Mac)>> TableBridgesAsync(string lab, CancellationToken cancellationToken)
    {
        var listing = await host.Shell.RunAsync(HostCommand.Of("nft", "list", "table", "ip", HostNames.NftTable(lab)).WithoutThrowing(), cancellationToken);
        return listing.Succeeded
            ? [.. TableBridgeRule().Matches(listing.StandardOutput).Select(m => (m.Groups[1].Value, m.Groups[2].Value))
                .Where(b => b.Item1.StartsWith(HostNames.BridgePrefix, StringComparison.Ordinal)).Distinct()]
            : [];
    }

    [GeneratedRegex("iifname \"([a-z0-9-]+)\" ether daddr != ([0-9a-f:]{17}) notrack")]
    private static partial Regex TableBridgeRule();
}
