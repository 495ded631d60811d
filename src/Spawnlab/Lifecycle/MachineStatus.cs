using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>One machine as `spawnlab ls` shows it.</summary>
public sealed record MachineStatus(
    string Lab,
    string Machine,
    string State,
    IReadOnlyList<InterfaceStatus> Interfaces,
    string Root,
    int? Pid)
{
    public static IReadOnlyList<MachineStatus> Of(IEnumerable<LabState> labs) =>
        labs.SelectMany(lab => lab.Machines.Values.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m => new MachineStatus(
            lab.Lab,
            m.Name,
            m.Process is { IsAlive: true } ? "running" : "stopped",
            m.Interfaces.Select(i => new InterfaceStatus(i.Network, i.Name, i.Address, i.Mac, i.HostVeth)).ToList(),
            m.Root,
            m.Process is { IsAlive: true } p ? p.Pid : null))).ToList();
}

public sealed record InterfaceStatus(string Network, string Interface, string? Address, string Mac, string HostVeth);
