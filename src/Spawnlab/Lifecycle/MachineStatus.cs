using Spawnlab.Host;
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
    public static IReadOnlyList<MachineStatus> Of(IEnumerable<LabState> labs) =>
        labs.SelectMany(lab => lab.Machines.Values.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m => new MachineStatus(
            lab.Lab,
            m.Name,
            m.Process is { IsAlive: true } ? MachineRunState.Running : MachineCgroup.IsPopulated(m.Cgroups) ? MachineRunState.Orphaned : MachineRunState.Stopped,
            [.. m.Interfaces.Select(i => new InterfaceStatus(i.Network, i.Name, i.Address, i.Mac, i.HostVeth, i.Dhcp))],
            m.Root,
            m.Process is { IsAlive: true } p ? p.Pid : null,
            m.PrivateUsers))).ToList();

    /// <summary>As <see cref="Of"/>, with the address of each DHCP interface read from the machine's namespace.</summary>
    public static async Task<IReadOnlyList<MachineStatus>> WithLeasesAsync(IHostShell shell, IEnumerable<LabState> labs, CancellationToken cancellationToken)
    {
        var ip = new IpTool(shell);
        var list = labs.ToList();
        var result = new List<MachineStatus>();
        foreach (var status in Of(list))
        {
            var machine = list.First(l => l.Lab == status.Lab).Machines[status.Machine];
            var interfaces = new List<InterfaceStatus>();
            foreach (var iface in status.Interfaces)
            {
                interfaces.Add(iface.Dhcp && iface.Address is null
                    ? iface with { Address = await ip.NamespaceAddressAsync(machine.Namespace, iface.Interface, cancellationToken) }
                    : iface);
            }
            result.Add(status with { Interfaces = interfaces });
        }
        return result;
    }
}

public sealed record InterfaceStatus(string Network, string Interface, string? Address, string Mac, string HostVeth, bool Dhcp);

/// <summary>Whether a machine runs: its nspawn lives, or only its processes do (nspawn was killed alone), or neither.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<MachineRunState>))]
public enum MachineRunState
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("running")]
    Running,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("orphaned")]
    Orphaned,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("stopped")]
    Stopped,
}

public static class MachineRunStates
{
    /// <summary>The state as ls and graph print it.</summary>
    public static string Text(this MachineRunState state) => state.ToString().ToLowerInvariant();
}
