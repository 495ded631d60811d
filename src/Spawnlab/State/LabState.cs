using System.Text.Json.Serialization;

namespace Spawnlab.State;

/// <summary>
/// What a lab has on the host. Every object is recorded here before it is created, so that <c>down</c> and
/// <c>clean</c> can remove it from this record alone, and nothing that is not recorded is ever removed.
/// </summary>
public sealed class LabState
{
    public required string Lab { get; init; }
    public string? LabFile { get; set; }
    public required string PoolPath { get; init; }
    public required string Driver { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Host objects in the order they were recorded; removed in reverse.</summary>
    public List<HostObject> Objects { get; init; } = [];

    public Dictionary<string, MachineState> Machines { get; init; } = new(StringComparer.Ordinal);

    public Dictionary<string, NetworkState> Networks { get; init; } = new(StringComparer.Ordinal);

    public bool Has(HostObject obj) => Objects.Contains(obj);
}

public enum HostObjectKind
{
    Bridge,
    NetworkNamespace,
    NftTable,
    Root,
    Process,
}

/// <summary>One object on the host that a lab owns.</summary>
public sealed record HostObject(HostObjectKind Kind, string Name)
{
    /// <summary>For processes: the start time that identifies the pid.</summary>
    public long? StartTicks { get; init; }

    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()} {Name}";
}

public sealed class NetworkState
{
    public required string Name { get; init; }
    public required string Bridge { get; init; }
    public required string Subnet { get; init; }
    public string? HostAddress { get; init; }
    public bool Nat { get; init; }
    public string? Uplink { get; init; }
}

public sealed class MachineState
{
    public required string Name { get; init; }
    public required string Image { get; init; }
    public required string Config { get; init; }
    public required string Root { get; init; }
    public required string Namespace { get; init; }
    public required string LogFile { get; init; }
    public int? Pid { get; set; }
    public long? StartTicks { get; set; }
    public List<InterfaceState> Interfaces { get; init; } = [];

    [JsonIgnore]
    public Host.HostProcess? Process => Pid is { } pid && StartTicks is { } ticks ? new Host.HostProcess(pid, ticks) : null;
}

public sealed class InterfaceState
{
    public required string Network { get; init; }
    public required string Name { get; init; }
    public required string HostVeth { get; init; }
    public required string Mac { get; init; }
    public string? Address { get; init; }
    public string? Gateway { get; init; }
}
