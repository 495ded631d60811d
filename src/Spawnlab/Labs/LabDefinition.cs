using System.Net;

namespace Spawnlab.Labs;

/// <summary>A validated lab file (version 1). Paths are absolute, resolved against the lab file's folder.</summary>
public sealed record LabDefinition(
    string Name,
    string FilePath,
    IReadOnlyDictionary<string, ImageDefinition> Images,
    IReadOnlyDictionary<string, NetworkDefinition> Networks,
    IReadOnlyDictionary<string, MachineDefinition> Machines)
{
    public string Directory => Path.GetDirectoryName(FilePath)!;
}

public sealed record ImageDefinition(
    string Name,
    string Bootstrap,
    string Suite,
    string? Mirror,
    IReadOnlyList<string> Packages,
    string? Setup);

public sealed record NetworkDefinition(
    string Name,
    IPNetwork Subnet,
    IPAddress? Host,
    bool Nat,
    bool Dhcp,
    string? Uplink);

public sealed record MachineDefinition(
    string Name,
    string Image,
    IReadOnlyList<MachineInterface> Interfaces,
    IReadOnlyList<BindMount> Binds,
    IReadOnlyList<string> Tmpfs,
    bool ReadOnlyRoot)
{
    public IReadOnlyList<StageDefinition> Stages { get; init; } = [];
}

/// <summary>A machine's attachment to one network; the interface inside the machine is named after the network.</summary>
public sealed record MachineInterface(string Network, IPAddress? Address, int PrefixLength, IPAddress? Gateway, bool Dhcp)
{
    public string? Cidr => Address is null ? null : $"{Address}/{PrefixLength}";
}

public sealed record BindMount(string HostPath, string MachinePath, bool ReadOnly);
