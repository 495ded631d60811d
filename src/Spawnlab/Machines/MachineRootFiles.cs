using System.Text;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Networks;

namespace Spawnlab.Machines;

/// <summary>What makes a copy of an image a given machine of a lab: the files written into its fresh root.</summary>
public static class MachineRootFiles
{
    /// <summary>
    /// What a lean container does not boot (masked in its root), measured on the host tests' image: about a fifth of a
    /// boot's CPU. Login sessions (logind), who and last (utmp), a journal kept on disk, the image's own apt, dpkg and
    /// filesystem maintenance timers, and settings nspawn already made (sysctl, the root's mount).
    /// </summary>
    public static readonly IReadOnlyList<string> LeanMasks =
    [
        "systemd-logind.service", "systemd-journal-flush.service", "systemd-update-utmp.service", "systemd-update-utmp-runlevel.service",
        "systemd-sysctl.service", "systemd-remount-fs.service", "e2scrub_reap.service", "e2scrub_all.timer", "fstrim.timer",
        "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
    ];

    /// <summary>Which lean boot a container's root was made for: part of its configuration, so that a new set remakes it.</summary>
    public const string LeanVersion = "lean1";

    /// <summary>
    /// A fresh machine-id, the machine's hostname and hosts file, and its resolver, written into its new root.
    /// A machine that takes DHCP leases gets systemd-networkd (matching its interfaces by MAC) and systemd-resolved
    /// for the DNS servers the lease names.
    /// </summary>
    /// <param name="imageHasSshd">Whether the image runs sshd, when <paramref name="root"/> is a folder staged apart from it (null: look in the root).</param>
    public static void Write(string root, MachineDefinition machine, LabDefinition lab, bool? imageHasSshd = null)
    {
        string At(string path) => Path.Combine(root, path);
        File.WriteAllText(At("etc/machine-id"), Guid.NewGuid().ToString("N") + "\n");
        File.WriteAllText(At("etc/hostname"), machine.Name + "\n");
        var hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        // Its own name: its first static address, or 127.0.1.1 (Debian's way) when it has none.
        var own = machine.Interfaces.FirstOrDefault(i => i.Address is not null && !i.Dhcp)?.Address?.ToString() ?? "127.0.1.1";
        hosts.Append($"{own}\t{machine.Name}.{lab.Name} {machine.Name}\n");
        foreach (var other in lab.Machines.Values.Where(m => m.Name != machine.Name))
        {
            foreach (var iface in other.Interfaces.Where(i => i.Address is not null))
                hosts.Append($"{iface.Address}\t{other.Name}.{lab.Name} {other.Name}\n");
        }
        File.WriteAllText(At("etc/hosts"), hosts.ToString());
        WriteAuthorizedKeys(root, lab, imageHasSshd ?? File.Exists(Path.Combine(root, "usr/sbin/sshd")));
        if (machine.Kind == MachineKind.Container && !machine.FullBoot)
            WriteLeanBoot(root);

        File.Delete(At("etc/resolv.conf"));
        if (machine.UsesDhcp)
        {
            Directory.CreateDirectory(At("etc/systemd/network"));
            foreach (var iface in machine.Interfaces.Where(i => i.Dhcp))
            {
                File.WriteAllText(At($"etc/systemd/network/50-spawnlab-{iface.Network}.network"), $"""
                    # Written by Spawnlab: network {iface.Network} of lab {lab.Name}
                    [Match]
                    MACAddress={HostNames.Mac(lab.Name, machine.Name, iface.Network)}

                    [Network]
                    DHCP=ipv4
                    LinkLocalAddressing=no
                    IPv6AcceptRA=no

                    [DHCPv4]
                    UseDomains=yes

                    """);
            }
            foreach (var (link, target) in new[]
            {
                ("etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"),
                ("etc/systemd/system/sockets.target.wants/systemd-networkd.socket", "/lib/systemd/system/systemd-networkd.socket"),
                ("etc/systemd/system/dbus-org.freedesktop.network1.service", "/lib/systemd/system/systemd-networkd.service"),
                ("etc/systemd/system/multi-user.target.wants/systemd-resolved.service", "/lib/systemd/system/systemd-resolved.service"),
                ("etc/systemd/system/dbus-org.freedesktop.resolve1.service", "/lib/systemd/system/systemd-resolved.service"),
                ("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"),
            })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(At(link))!);
                File.Delete(At(link));
                File.CreateSymbolicLink(At(link), target);
            }
        }
        else
        {
            // The host's DNS server of a network with 'dhcp: true' answers for the lab's names; otherwise /etc/hosts does.
            var resolvers = machine.Interfaces.Select(i => lab.Networks[i.Network]).Where(n => n.Dhcp && n.Host is not null).Select(n => n.Host!).ToList();
            File.WriteAllText(At("etc/resolv.conf"), string.Concat(resolvers.Select(r => $"nameserver {r}\n")) + (resolvers.Count > 0 ? $"search {lab.Name}\n" : ""));
        }
    }

    /// <summary>
    /// Masks <see cref="LeanMasks"/> (a unit the image has its own file for in /etc is left as it is) and keeps the
    /// journal in memory only.
    /// </summary>
    private static void WriteLeanBoot(string root)
    {
        var units = Path.Combine(root, "etc/systemd/system");
        var journald = Path.Combine(root, "etc/systemd/journald.conf.d");
        if (new DirectoryInfo(units).LinkTarget is not null || new DirectoryInfo(journald).LinkTarget is not null)
            throw new SpawnlabException($"{units} or {journald} is a symbolic link in the image; refusing to write through it");
        Directory.CreateDirectory(units);
        foreach (var unit in LeanMasks)
        {
            var path = Path.Combine(units, unit);
            if (!File.Exists(path) && new FileInfo(path).LinkTarget is null)
                File.CreateSymbolicLink(path, "/dev/null");
        }
        Directory.CreateDirectory(journald);
        File.WriteAllText(Path.Combine(journald, "50-spawnlab-lean.conf"), """
            # Written by Spawnlab: a lean container keeps its journal in memory (full_boot: true keeps it on disk)
            [Journal]
            Storage=volatile

            """);
    }

    /// <summary>Sets root's password from the lab's file; it goes to chpasswd on stdin and is never in a command line, a log or the state.</summary>
    public static async Task SetRootPasswordAsync(IHostShell shell, string root, string passwordFile, CancellationToken cancellationToken)
    {
        var password = (await File.ReadAllTextAsync(passwordFile, cancellationToken)).TrimEnd('\n', '\r');
        if (password.Length == 0 || password.Contains('\n') || password.Contains(':'))
            throw new SpawnlabException($"{passwordFile}: expected one line holding the password, without ':'");
        await shell.RunAsync(HostCommand.Of("chpasswd", "--root", root).WithStandardInput($"root:{password}\n"), cancellationToken);
    }

    /// <summary>The lab's public keys in root's authorized_keys, in a machine whose image runs sshd.</summary>
    private static void WriteAuthorizedKeys(string root, LabDefinition lab, bool hasSshd)
    {
        if (lab.AuthorizedKeys.Count == 0 || !hasSshd)
            return;
        var ssh = Path.Combine(root, "root/.ssh");
        // The folder and file are the machine's own: refuse a link the image planted in their place.
        if (new FileInfo(ssh).LinkTarget is not null || new FileInfo(Path.Combine(ssh, "authorized_keys")).LinkTarget is not null)
            throw new SpawnlabException($"{ssh} or its authorized_keys is a symbolic link; refusing to write the lab's keys through it");
        Directory.CreateDirectory(ssh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var file = Path.Combine(ssh, "authorized_keys");
        File.WriteAllText(file, "# Written by Spawnlab: the lab's ssh: authorized_keys\n" + string.Concat(lab.AuthorizedKeys.Select(k => File.ReadAllText(k).TrimEnd() + "\n")));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>
    /// A VM's NICs as a container's: each named after its network (a .link matching its MAC) with its address and
    /// gateway, or a lease, by systemd-networkd, which is turned on.
    /// </summary>
    public static void WriteVmNetwork(string root, MachineDefinition machine, LabDefinition lab)
    {
        string At(string path) => Path.Combine(root, path);
        Directory.CreateDirectory(At("etc/systemd/network"));
        foreach (var iface in machine.Interfaces)
        {
            var mac = HostNames.Mac(lab.Name, machine.Name, iface.Network);
            File.WriteAllText(At($"etc/systemd/network/10-spawnlab-{iface.Network}.link"), $"""
                # Written by Spawnlab: network {iface.Network} of lab {lab.Name}
                [Match]
                MACAddress={mac}

                [Link]
                Name={iface.Network}

                """);
        }
        WriteStaticNetwork(root, machine, lab);
        // Its serial console logs root in: it is reached only through a socket of the host that root alone opens,
        // and it is what `spawnlab shell` and `console` attach to.
        Directory.CreateDirectory(At("etc/systemd/system/serial-getty@ttyS0.service.d"));
        File.WriteAllText(At("etc/systemd/system/serial-getty@ttyS0.service.d/spawnlab-autologin.conf"), """
            # Written by Spawnlab: the serial console of a lab's VM logs root in
            [Service]
            ExecStart=
            ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 - $TERM

            """);
    }

    /// <summary>
    /// The machine's static addresses and gateways set by systemd-networkd inside it (matching each interface by its
    /// MAC), which is turned on: for a machine whose interfaces the host does not configure (a VM, an LXD instance).
    /// </summary>
    public static void WriteStaticNetwork(string root, MachineDefinition machine, LabDefinition lab)
    {
        string At(string path) => Path.Combine(root, path);
        Directory.CreateDirectory(At("etc/systemd/network"));
        foreach (var iface in machine.Interfaces.Where(i => !i.Dhcp))
        {
            File.WriteAllText(At($"etc/systemd/network/50-spawnlab-{iface.Network}.network"), $"""
                # Written by Spawnlab: network {iface.Network} of lab {lab.Name}
                [Match]
                MACAddress={HostNames.Mac(lab.Name, machine.Name, iface.Network)}

                [Network]
                LinkLocalAddressing=no
                IPv6AcceptRA=no
                {(iface.Cidr is { } cidr ? $"Address={cidr}" : "")}
                {(iface.Gateway is { } gateway ? $"Gateway={gateway}" : "")}

                """);
        }
        foreach (var (link, target) in new[]
        {
            ("etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"),
            ("etc/systemd/system/sockets.target.wants/systemd-networkd.socket", "/lib/systemd/system/systemd-networkd.socket"),
        })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(At(link))!);
            File.Delete(At(link));
            File.CreateSymbolicLink(At(link), target);
        }
    }
}
