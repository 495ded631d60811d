using System.Globalization;
using System.Text.Json;
using Spawnlab.Host;

namespace Spawnlab.Doctor;

public enum Severity
{
    Ok,
    Note,
    Problem,
}

/// <summary>What the doctor examines.</summary>
public enum FindingKind
{
    Root,
    Tools,
    Cgroups,
    UserNamespaces,
    IpForwarding,
    Inotify,
    ForwardPolicy,
    BridgeNetfilter,
    FreeSpace,
    Vms,
}

/// <summary>One thing a lab needs from the host: whether it holds, and how to fix it when it does not.</summary>
public sealed record Finding(FindingKind Kind, Severity Severity, string Detail, string? Advice = null)
{
    public bool Fixable { get; init; }

    /// <summary>The finding's name as the doctor prints it.</summary>
    public string Check => Kind switch
    {
        FindingKind.UserNamespaces => "user namespaces",
        FindingKind.IpForwarding => "ip forwarding",
        FindingKind.ForwardPolicy => "forward policy",
        FindingKind.BridgeNetfilter => "bridge netfilter",
        FindingKind.FreeSpace => "free space",
        FindingKind.Vms => "vms",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// Checks what labs need from the host and says how to fix each gap; with fix, installs packages and sets sysctls,
/// saying what it changed. `up` runs the cheap checks first and stops early with the same advice.
/// </summary>
public sealed class HostDoctor(IHost host, string stateDirectory)
{
    public const int InotifyInstancesWanted = 1024;

    /// <summary>Booted machines use inotify instances; at the default 128, machines past about 15 hang in "initializing".</summary>
    public const int InotifyInstancesPerMachine = 8;

    /// <summary>The host programs labs may need, with the Debian package of each.</summary>
    private static readonly (string Tool, string Package)[] Tools =
    [
        ("systemd-nspawn", "systemd-container"), ("btrfs", "btrfs-progs"), ("mkfs.btrfs", "btrfs-progs"), ("nft", "nftables"),
        ("ip", "iproute2"), ("debootstrap", "debootstrap"), ("dnsmasq", "dnsmasq-base"), ("nsenter", "util-linux"),
    ];

    private const string ForwardComment = "spawnlab: let lab bridges forward";

    public async Task<IReadOnlyList<Finding>> ExamineAsync(CancellationToken cancellationToken)
    {
        var findings = new List<Finding>();
        findings.Add(host.IsRoot
            ? new Finding(FindingKind.Root, Severity.Ok, "running as root")
            : new Finding(FindingKind.Root, Severity.Problem, "not running as root", "run spawnlab with sudo"));

        findings.Add(ToolsFinding(_ => true));

        findings.Add(Cgroups());
        findings.Add(host.UserNamespacesUnavailable is { } reason
            ? new Finding(FindingKind.UserNamespaces, Severity.Note, $"{reason}: machines run as real root on the host",
                "turn user namespaces on (sysctl -w user.max_user_namespaces=65536) and mount cgroup2")
            : new Finding(FindingKind.UserNamespaces, Severity.Ok, "machines run in user namespaces of their own (a machine with 'private_users: false' runs as real root)"));

        var forward = host.Sysctls.ReadInt("net.ipv4.ip_forward");
        findings.Add(forward == 1
            ? new Finding(FindingKind.IpForwarding, Severity.Ok, "net.ipv4.ip_forward = 1")
            : new Finding(FindingKind.IpForwarding, Severity.Note, "net.ipv4.ip_forward = 0: `up` turns it on for a lab with NAT", "sysctl -w net.ipv4.ip_forward=1") { Fixable = true });

        var instances = host.Sysctls.ReadInt("fs.inotify.max_user_instances") ?? 0;
        findings.Add(instances >= InotifyInstancesWanted
            ? new Finding(FindingKind.Inotify, Severity.Ok, $"fs.inotify.max_user_instances = {instances}")
            : new Finding(FindingKind.Inotify, Severity.Problem,
                $"fs.inotify.max_user_instances = {instances}: about {instances / InotifyInstancesPerMachine} booted machines come up, the rest hang in 'initializing'",
                $"sysctl -w fs.inotify.max_user_instances={InotifyInstancesWanted}")
            { Fixable = true });

        var dropping = await DroppingForwardChainsAsync(cancellationToken);
        findings.Add(dropping.Count == 0
            ? new Finding(FindingKind.ForwardPolicy, Severity.Ok, "no forward chain drops by default")
            : new Finding(FindingKind.ForwardPolicy, Severity.Problem,
                $"forward chains with policy drop (Docker, UFW): {string.Join(", ", dropping.Select(d => $"{d.Family} {d.Table} {d.Chain}"))}; traffic of lab machines through the host is dropped",
                $"accept what comes from or goes to lab bridges (interfaces {Networks.HostNames.BridgePrefix}*) in those chains; `spawnlab doctor --fix` adds the rules, marked with a comment")
            { Fixable = true });

        if (host.Sysctls.ReadInt("net.bridge.bridge-nf-call-iptables") == 1)
            findings.Add(new Finding(FindingKind.BridgeNetfilter, Severity.Note,
                "br_netfilter passes bridged frames through the firewall; Spawnlab does not track frames between machines of a bridge, so NAT through a gateway machine works"));

        findings.Add(FreeSpace());
        findings.Add(host.HasProgram(Machines.QemuArguments.Program) && File.Exists("/usr/lib/ipxe/qemu/efi-virtio.rom")
            ? new Finding(FindingKind.Vms, Severity.Ok, $"QEMU and its iPXE ROMs are installed; VMs run under {new VmAccel(host.Shell, stateDirectory).Describe()}")
            : new Finding(FindingKind.Vms, Severity.Note, "QEMU or its iPXE ROMs are missing: labs with VM machines (kind: vm) cannot come up", "apt-get install qemu-system-x86 ipxe-qemu"));
        return findings;
    }

    /// <summary>Repairs what can be repaired; returns what it changed.</summary>
    public async Task<IReadOnlyList<string>> FixAsync(IReadOnlyList<Finding> findings, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab doctor --fix");
        var changed = new List<string>();
        foreach (var finding in findings.Where(f => f.Severity != Severity.Ok && f.Fixable))
        {
            switch (finding.Kind)
            {
                case FindingKind.Tools:
                    var packages = Tools.Where(t => !OnPath(t.Tool)).Select(t => t.Package).Distinct().ToList();
                    await host.Shell.RunAsync("apt-get", ["update", "-qq"], cancellationToken);
                    await host.Shell.RunAsync(HostCommand.Of("apt-get", ["install", "-y", "-qq", .. packages]).WithEnvironment("DEBIAN_FRONTEND", "noninteractive"), cancellationToken);
                    changed.Add($"installed {string.Join(", ", packages)}");
                    break;
                case FindingKind.IpForwarding:
                    await host.Sysctls.WriteAsync("net.ipv4.ip_forward", "1", cancellationToken);
                    changed.Add("set net.ipv4.ip_forward = 1");
                    break;
                case FindingKind.Inotify:
                    var before = host.Sysctls.ReadInt("fs.inotify.max_user_instances");
                    await host.Sysctls.WriteAsync("fs.inotify.max_user_instances", InotifyInstancesWanted.ToString(CultureInfo.InvariantCulture), cancellationToken);
                    changed.Add($"set fs.inotify.max_user_instances = {InotifyInstancesWanted} (was {before}); add it to /etc/sysctl.d to keep it after a reboot");
                    break;
                case FindingKind.ForwardPolicy:
                    foreach (var (family, table, chain) in await DroppingForwardChainsAsync(cancellationToken))
                    {
                        await host.Shell.RunAsync(HostCommand.Of("nft", "-f", "-").WithStandardInput(
                            $"insert rule {family} {table} {chain} iifname \"{Networks.HostNames.BridgePrefix}*\" accept comment \"{ForwardComment}\"\n"
                            + $"insert rule {family} {table} {chain} oifname \"{Networks.HostNames.BridgePrefix}*\" accept comment \"{ForwardComment}\"\n"), cancellationToken);
                        changed.Add($"let lab bridges forward in {family} {table} {chain}");
                    }
                    break;
            }
        }
        return changed;
    }

    /// <summary>Base chains on the forward hook whose policy is drop and that do not already accept lab bridges.</summary>
    public async Task<IReadOnlyList<(string Family, string Table, string Chain)>> DroppingForwardChainsAsync(CancellationToken cancellationToken)
    {
        if (!OnPath("nft"))
            return [];
        var result = await host.Shell.RunAsync(HostCommand.Of("nft", "-j", "list", "ruleset").WithoutThrowing(), cancellationToken);
        if (!result.Succeeded)
            return [];
        using var json = JsonDocument.Parse(result.StandardOutput);
        var chains = new List<(string, string, string)>();
        var accepted = new HashSet<(string, string, string)>();
        foreach (var item in json.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("chain", out var chain) && chain.TryGetProperty("hook", out var hook) && hook.GetString() == "forward"
                && chain.TryGetProperty("policy", out var policy) && policy.GetString() == "drop")
                chains.Add((chain.GetProperty("family").GetString()!, chain.GetProperty("table").GetString()!, chain.GetProperty("name").GetString()!));
            if (item.TryGetProperty("rule", out var rule) && rule.TryGetProperty("comment", out var comment) && comment.GetString() == ForwardComment)
                accepted.Add((rule.GetProperty("family").GetString()!, rule.GetProperty("table").GetString()!, rule.GetProperty("chain").GetString()!));
        }
        return [.. chains.Where(c => !accepted.Contains(c))];
    }

    private Finding Cgroups() => host.CgroupLayout switch
    {
        CgroupLayout.Unified => new Finding(FindingKind.Cgroups, Severity.Ok, $"unified cgroup hierarchy (v2); {MachineUnits}"),
        CgroupLayout.Hybrid => new Finding(FindingKind.Cgroups, Severity.Ok, $"hybrid cgroup layout (v1 with a systemd hierarchy and a unified one): guests with systemd older than 256, such as Debian 12, boot; {MachineUnits}"),
        CgroupLayout.Legacy => new Finding(FindingKind.Cgroups, Severity.Note, "legacy cgroup v1 layout: only older guests boot", "boot the host with a unified or hybrid cgroup layout"),
        _ => new Finding(FindingKind.Cgroups, Severity.Problem, "no systemd cgroup hierarchy: systemd cannot boot inside machines", "mount cgroup2 on /sys/fs/cgroup (or a name=systemd v1 hierarchy)"),
    };

    /// <summary>Whether the tools that <paramref name="needed"/> names are installed, and the packages of those that are not.</summary>
    public Finding ToolsFinding(Func<string, bool> needed)
    {
        var missing = Tools.Where(t => needed(t.Tool) && !OnPath(t.Tool)).ToList();
        return missing.Count == 0
            ? new Finding(FindingKind.Tools, Severity.Ok, "systemd-nspawn, btrfs-progs, nftables, iproute2, debootstrap, dnsmasq and nsenter are installed")
            : new Finding(FindingKind.Tools, Severity.Problem, $"missing: {string.Join(", ", missing.Select(t => t.Tool))}",
                $"apt-get install {string.Join(' ', missing.Select(t => t.Package).Distinct())}")
            { Fixable = true };
    }

    /// <summary>Where machines run, and whether machinectl sees them.</summary>
    private string MachineUnits => host.HasSystemdAsInit
        ? "each container runs in a scope of machine.slice, registered with machined (machinectl list, systemctl -M)"
        : "systemd is not PID 1: containers run in cgroups Spawnlab makes, and machinectl does not list them";

    private Finding FreeSpace()
    {
        var directory = stateDirectory;
        while (!Directory.Exists(directory) && Path.GetDirectoryName(directory) is { } parent)
            directory = parent;
        var free = new DriveInfo(directory).AvailableFreeSpace / (1024.0 * 1024 * 1024);
        return free >= 5
            ? new Finding(FindingKind.FreeSpace, Severity.Ok, $"{free:0.0} GiB free for the pool under {stateDirectory}")
            : new Finding(FindingKind.FreeSpace, Severity.Problem, $"only {free:0.0} GiB free under {stateDirectory}: an image takes about 0.3 GiB and each machine grows its root",
                "free some space, or use --state-dir on a larger filesystem");
    }

    private bool OnPath(string tool) => host.HasProgram(tool);
}
