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

    /// <summary>The lab's Ansible vars, as the lab file said at the last `up`.</summary>
    public System.Text.Json.Nodes.JsonObject Vars { get; set; } = [];
    public required string PoolPath { get; init; }
    public required string Driver { get; init; }
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Host objects in the order they were recorded; removed in reverse.</summary>
    public List<HostObject> Objects { get; init; } = [];

    public Dictionary<string, MachineState> Machines { get; init; } = new(StringComparer.Ordinal);

    public Dictionary<string, NetworkState> Networks { get; init; } = new(StringComparer.Ordinal);

    /// <summary>For a lab on an LXD/Incus daemon (engine: lxd): the daemon and project; null for one on this host's nspawn.</summary>
    public LxdPlace? Lxd { get; init; }

    public bool Has(HostObject obj) => Objects.Contains(obj);
}

public enum HostObjectKind
{
    Bridge,
    NetworkNamespace,
    NftTable,
    Root,
    Process,
    Cgroup,

    /// <summary>Objects of an LXD daemon (engine: lxd), by name; an image by its alias.</summary>
    LxdProject,
    LxdStoragePool,
    LxdNetwork,
    LxdImage,
    LxdInstance,
}

/// <summary>
/// Where a lab's LXD objects are: the daemon's unix socket (or, for a remote daemon or cluster, the lxc remote that
/// names it, the socket then empty) and the project of its instances.
/// </summary>
public sealed record LxdPlace(string Socket, string Project)
{
    public string? Remote { get; init; }

    /// <summary>The daemon as messages name it.</summary>
    public override string ToString() => Remote is { } remote ? $"remote {remote}" : Socket;
}

/// <summary>One object on the host that a lab owns.</summary>
public sealed record HostObject(HostObjectKind Kind, string Name)
{
    /// <summary>For processes: the start time that identifies the pid.</summary>
    public long? StartTicks { get; init; }

    /// <summary>The process a process object names; null for other objects, or one whose name is not a pid.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Host.HostProcess? Process =>
        Kind == HostObjectKind.Process && StartTicks is { } ticks
            && int.TryParse(Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
            ? new Host.HostProcess(pid, ticks) : null;

    public override string ToString() => $"{Kind switch
    {
        HostObjectKind.NetworkNamespace => "network namespace",
        HostObjectKind.NftTable => "nftables table",
        HostObjectKind.LxdProject => "LXD project",
        HostObjectKind.LxdStoragePool => "LXD storage pool",
        HostObjectKind.LxdNetwork => "LXD network",
        HostObjectKind.LxdImage => "LXD image",
        HostObjectKind.LxdInstance => "LXD instance",
        _ => Kind.ToString().ToLowerInvariant(),
    }} {Name}";
}

public sealed class NetworkState
{
    public required string Name { get; init; }
    public required string Bridge { get; init; }
    public required string Subnet { get; init; }
    public string? HostAddress { get; init; }
    public bool Nat { get; init; }
    public string? Uplink { get; init; }
    public bool Dhcp { get; init; }

    /// <summary>The dnsmasq serving DHCP and DNS on this network, when the host does.</summary>
    public Host.HostProcess? Dnsmasq { get; set; }
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

    /// <summary>IPv4 forwarding is turned on in the machine's network namespace.</summary>
    public bool Forward { get; init; }

    /// <summary>
    /// The machine runs in a user namespace of its own; its network namespace is then the one nspawn makes, attached
    /// under <see cref="Namespace"/> and wired at each boot.
    /// </summary>
    public bool PrivateUsers { get; init; }

    /// <summary>The machine's own cgroups, one per hierarchy (for a machine with a user namespace).</summary>
    public List<string> Cgroups { get; init; } = [];

    /// <summary>The key of the base (image and machine definition) that the stage keys start from.</summary>
    public string? BaseKey { get; set; }

    /// <summary>
    /// The stage key whose result the live root holds (the base key for a fresh clone); null while a stage is running
    /// or after one failed, when the root is in between.
    /// </summary>
    public string? RootAt { get; set; }

    public List<StageRecord> Stages { get; set; } = [];

    /// <summary>The systemd-nspawn arguments the machine boots with, so that it can be restarted from the state alone.</summary>
    public List<string> NspawnArguments { get; set; } = [];

    /// <summary>A container, or a VM (whose process is QEMU, whose root folder holds its disk).</summary>
    public Labs.MachineKind Kind { get; init; }

    /// <summary>The QEMU arguments a VM boots with, so that it can be restarted from the state alone.</summary>
    public List<string> QemuArguments { get; set; } = [];

    /// <summary>A VM's serial console: the log of what it printed since its boot, and the socket that types into it.</summary>
    public string? ConsoleLog { get; init; }

    public string? ConsoleSocket { get; init; }

    /// <summary>An image-booted VM's guest agent channel, through which commands run inside it.</summary>
    public string? AgentSocket { get; init; }

    /// <summary>The machine's Ansible groups and host vars, as the lab file said at the last `up`, for the inventory.</summary>
    public List<string> Groups { get; set; } = [];

    public System.Text.Json.Nodes.JsonObject Vars { get; set; } = [];

    /// <summary>For a machine of a lab on LXD: the daemon and project of its instance (named as the machine).</summary>
    public LxdPlace? Lxd { get; init; }

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
    public bool Dhcp { get; init; }

    /// <summary>For a DHCP interface on a network the host serves: the address its lease is fixed to, if any.</summary>
    public string? FixedLease { get; init; }
}

public enum StageStatus
{
    Pending,
    Cached,
    Ran,
    Failed,
}

public sealed class StageRecord
{
    public required string Name { get; init; }
    public required string Key { get; init; }
    public StageStatus Status { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public DateTimeOffset? SnapshotAt { get; set; }

    /// <summary>The stage's checks, so that `spawnlab test` reruns them without the lab file.</summary>
    public List<Labs.CheckDefinition> Checks { get; init; } = [];

    /// <summary>Stages of other machines (MACHINE/STAGE) this stage waits for.</summary>
    public List<string> After { get; init; } = [];

    [JsonIgnore]
    public TimeSpan? Duration => StartedAt is { } start && EndedAt is { } end ? end - start : null;
}
