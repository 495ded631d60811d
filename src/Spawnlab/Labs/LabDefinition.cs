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

    /// <summary>Ansible vars of every host of the lab.</summary>
    public System.Text.Json.Nodes.JsonObject Vars { get; init; } = [];

    /// <summary>Public key files (absolute) that may log in as root over SSH to every machine that runs sshd.</summary>
    public IReadOnlyList<string> AuthorizedKeys { get; init; } = [];

    /// <summary>What runs the lab's machines and networks: this host's systemd-nspawn (the default) or an LXD/Incus daemon.</summary>
    public LabEngine Engine { get; init; } = LabEngine.Nspawn;

    /// <summary>For <see cref="LabEngine.Lxd"/>: the daemon and project (null: found as the lxc client finds it, and spawnlab-LAB).</summary>
    public LxdSettings? Lxd { get; init; }
}

public enum LabEngine
{
    Nspawn,
    Lxd,
}

/// <param name="Remote">The daemon's unix socket (a path, or unix://PATH); null: LXD_DIR's, else the usual paths.</param>
/// <param name="Project">The LXD project that holds the lab's instances; null: spawnlab-LAB.</param>
public sealed record LxdSettings(string? Remote, string? Project);

/// <param name="Bootstrap">debootstrap, tarball, command, or from (a snapshot of <see cref="ImageDefinition.From"/> plus more).</param>
/// <param name="Setup">A shell script run inside the new image (from the lab file, or the content of the file it names).</param>
public sealed record ImageDefinition(
    string Name,
    string Bootstrap,
    string Suite,
    string? Mirror,
    IReadOnlyList<string> Packages,
    string? Setup)
{
    public const string Debootstrap = "debootstrap";
    public const string TarballMethod = "tarball";
    public const string CommandMethod = "command";
    public const string Derived = "from";

    /// <summary>tarball: the rootfs tarball (absolute): .tar, .tar.gz, .tgz, .tar.xz or .tar.zst.</summary>
    public string? Tarball { get; init; }

    /// <summary>command: a shell command run on the host in the lab file's folder, with ROOT (an empty folder to fill) and IMAGE set.</summary>
    public string? Command { get; init; }

    /// <summary>command: the files and folders (absolute) whose content is part of the image's key.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = [];

    /// <summary>The folder a command runs in: the lab file's.</summary>
    public string? Directory { get; init; }

    /// <summary>from: the image this one is a snapshot of.</summary>
    public string? From { get; init; }
}

public sealed record NetworkDefinition(
    string Name,
    IPNetwork Subnet,
    IPAddress? Host,
    bool Nat,
    bool Dhcp,
    string? Uplink)
{
    /// <summary>What machines on the network reach of the host, at its address on the network only.</summary>
    public HostAccess HostAccess { get; init; } = HostAccess.All;

    /// <summary>The host's DNS server answers names other than the lab's by asking the host's resolvers (default: with NAT only).</summary>
    public bool DnsForward { get; init; }

    /// <summary>A folder (absolute) the host's dnsmasq serves by TFTP, for machines that boot from the network.</summary>
    public string? Tftp { get; init; }

    /// <summary>What the host's DHCP tells iPXE to boot, in <see cref="Tftp"/>.</summary>
    public string BootFile { get; init; } = "boot.ipxe";
}

/// <summary>What the host lets machines of a network reach at its address on that network (never its other addresses).</summary>
public enum HostAccess
{
    /// <summary>Every service the host offers there, and ping.</summary>
    All,

    /// <summary>The lab's DHCP and DNS servers, and ping.</summary>
    DhcpDns,

    /// <summary>Nothing: the host only answers what it asked (replies to its own connections).</summary>
    None,
}

public sealed record MachineDefinition(
    string Name,
    string Image,
    IReadOnlyList<MachineInterface> Interfaces,
    IReadOnlyList<BindMount> Binds,
    IReadOnlyList<string> Tmpfs,
    bool ReadOnlyRoot)
{
    public IReadOnlyList<StageDefinition> Stages { get; init; } = [];

    /// <summary>Stages of other machines that this machine's boot and stages wait for.</summary>
    public IReadOnlyList<StageRef> After { get; init; } = [];

    /// <summary>The machine routes: IPv4 forwarding is on in its network namespace (its /proc/sys is read-only inside).</summary>
    public bool Forward { get; init; }

    /// <summary>
    /// The machine runs in a user namespace of its own (its root is an unprivileged user on the host) where the host
    /// allows it; false for a machine that needs real root.
    /// </summary>
    public bool PrivateUsers { get; init; } = true;

    /// <summary>
    /// The container boots every unit its image enables; without, it boots lean: what a test machine without logins
    /// or a persistent journal does not need is masked in its root (<see cref="Machines.MachineRootFiles.LeanMasks"/>).
    /// </summary>
    public bool FullBoot { get; init; }

    /// <summary>A file holding root's password; without one, root has no password and cannot log in.</summary>
    public string? RootPasswordFile { get; init; }

    /// <summary>A systemd-nspawn container (the default) or a QEMU virtual machine.</summary>
    public MachineKind Kind { get; init; }

    /// <summary>For a VM: how it boots and what it gets.</summary>
    public VmDefinition? Vm { get; init; }

    /// <summary>Whether the machine starts from an image (every container, an image-booted VM); a network-booted VM has none.</summary>
    public bool HasImage => Image.Length > 0;

    /// <summary>The Ansible groups the machine is in, besides the lab's and its networks'.</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>The machine's Ansible host vars.</summary>
    public System.Text.Json.Nodes.JsonObject Vars { get; init; } = [];

    public bool UsesDhcp => Interfaces.Any(i => i.Dhcp);
}

/// <summary>A stage of a machine, as `after:` names it; Line and Column say where, for errors.</summary>
public sealed record StageRef(string Machine, string Stage)
{
    public int Line { get; init; }
    public int Column { get; init; }

    public override string ToString() => $"{Machine}/{Stage}";

    /// <summary>A stage as named on the command line: MACHINE/STAGE.</summary>
    public static StageRef Parse(string text)
    {
        var slash = text.IndexOf('/');
        if (slash <= 0 || slash == text.Length - 1 || text.IndexOf('/', slash + 1) >= 0)
            throw new SpawnlabException($"'{text}': expected MACHINE/STAGE", exitCode: 2);
        return new StageRef(text[..slash], text[(slash + 1)..]);
    }

    /// <summary>A stage as named on the command line where labs may share machine names: MACHINE/STAGE or LAB/MACHINE/STAGE.</summary>
    public static (string? Lab, StageRef Stage) ParseQualified(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 3 && parts.All(p => p.Length > 0))
            return (parts[0], new StageRef(parts[1], parts[2]));
        if (parts.Length != 2 || parts.Any(p => p.Length == 0))
            throw new SpawnlabException($"'{text}': expected MACHINE/STAGE or LAB/MACHINE/STAGE", exitCode: 2);
        return (null, Parse(text));
    }

    public bool Equals(StageRef? other) => other is not null && other.Machine == Machine && other.Stage == Stage;

    public override int GetHashCode() => HashCode.Combine(Machine, Stage);
}

/// <summary>A machine's attachment to one network; the interface inside the machine is named after the network.</summary>
public sealed record MachineInterface(string Network, IPAddress? Address, int PrefixLength, IPAddress? Gateway, bool Dhcp)
{
    public string? Cidr => Address is null ? null : $"{Address}/{PrefixLength}";
}

/// <summary>A bind mount; when <see cref="Machine"/> is set, its source is the root of that machine of the lab.</summary>
public sealed record BindMount(string HostPath, string MachinePath, bool ReadOnly)
{
    public string? Machine { get; init; }
    public int Line { get; init; }
    public int Column { get; init; }
}

/// <summary>As JSON (ls, the state): "container" or "vm"; a state written with numbers still reads.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<MachineKind>))]
public enum MachineKind
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("container")]
    Container,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("vm")]
    Vm,
}

public enum VmBoot
{
    /// <summary>From its network (PXE, by whoever serves DHCP on its first network); its disk starts empty.</summary>
    Network,

    /// <summary>From its image's kernel, with the machine's root from the pool.</summary>
    Image,
}

/// <summary>A virtual machine's boot, memory (MiB), virtual CPUs and disk size (bytes).</summary>
public sealed record VmDefinition(VmBoot Boot, long MemoryMiB, int Cpus, long DiskBytes)
{
    public const long DefaultMemoryMiB = 512;
    public const long DefaultDiskBytes = 2L * 1024 * 1024 * 1024;
}
