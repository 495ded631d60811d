using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>
/// One machine as `spawnlab ls`, `inventory` and `graph` show it, with the addresses its leases gave it;
/// <see cref="PrivateUsers"/> says whether its root is an unprivileged user namespace or the host's root.
/// </summary>
public sealed record MachineStatus(
    string Lab,
    string Machine,
    MachineRunState State,
    IReadOnlyList<InterfaceStatus> Interfaces,
    string Root,
    int? Pid,
    bool PrivateUsers)
{
    /// <summary>A container or a VM.</summary>
    public Labs.MachineKind Kind { get; init; }

    public static IReadOnlyList<MachineStatus> Of(IMachineRuntime runtime, IEnumerable<LabState> labs) =>
        labs.SelectMany(lab => lab.Machines.Values.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m => new MachineStatus(
            lab.Lab,
            m.Name,
            runtime.RunState(m),
            [.. m.Interfaces.Select(i => new InterfaceStatus(i.Network, i.Name, i.Address, i.Mac, i.HostVeth, i.Dhcp))],
            m.Root,
            runtime.RunState(m) == MachineRunState.Running ? m.Pid : null,
            m.PrivateUsers)
        { Kind = m.Kind })).ToList();

    /// <summary>The statuses as `ls --json` prints them.</summary>
    public static string ToJson(IReadOnlyList<MachineStatus> statuses) =>
        System.Text.Json.JsonSerializer.Serialize(statuses, SpawnlabJson.Default.IReadOnlyListMachineStatus);

    /// <summary>As <see cref="Of"/>, with the address of each DHCP interface read from the machine's namespace.</summary>
    public static async Task<IReadOnlyList<MachineStatus>> WithLeasesAsync(IHost host, IMachineRuntime runtime, IEnumerable<LabState> labs, CancellationToken cancellationToken)
    {
        var ip = new IpTool(host);
        var list = labs.ToList();
        var result = new List<MachineStatus>();
        foreach (var status in Of(runtime, list))
        {
            var machine = list.First(l => l.Lab == status.Lab).Machines[status.Machine];
            var interfaces = new List<InterfaceStatus>();
            foreach (var iface in status.Interfaces)
            {
                interfaces.Add(iface.Dhcp && iface.Address is null
                    ? iface with { Address = await LeaseAsync(ip, machine, status.State, iface.Interface, cancellationToken) }
                    : iface);
            }
            result.Add(status with { Interfaces = interfaces });
        }
        return result;
    }

    /// <summary>A DHCP interface's address: from the machine's namespace, or from LXD for an instance it runs.</summary>
    private static async Task<string?> LeaseAsync(IpTool ip, MachineState machine, MachineRunState state, string iface, CancellationToken cancellationToken)
    {
        if (machine.Lxd is not { } place)
            return await ip.NamespaceAddressAsync(machine.Namespace, iface, cancellationToken);
        if (state != MachineRunState.Running)
            return null;
        using var client = Lxd.LxdClient.For(place);
        return await Lxd.LxdRuntime.AddressAsync(client, place, machine.Name, iface, cancellationToken);
    }
}

public sealed record InterfaceStatus(string Network, string Interface, string? Address, string Mac, string HostVeth, bool Dhcp);
