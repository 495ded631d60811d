using Spawnlab.Host.Interop;

namespace Spawnlab.Host;

/// <summary>The real host: /proc, /sys, cgroupfs, kill(2) and geteuid, and programs run through CliWrap.</summary>
public sealed class LinuxHost : IHost
{
    private readonly Lazy<string?> _userNamespaces;

    public LinuxHost(IHostShell? shell = null)
    {
        Shell = shell ?? new CliWrapShell();
        Processes = new ProcProcessTable(Shell);
        Cgroups = new MachineCgroup(Mounts, () => HasSystemdAsInit, Shell);
        _userNamespaces = new(FindUserNamespacesUnavailable);
    }

    public IHostShell Shell { get; }

    public IProcessTable Processes { get; }

    public ICgroups Cgroups { get; }

    public ISysctls Sysctls { get; } = new ProcSysctls();

    public IReadOnlyList<MountTable.Mount> Mounts() => MountTable.Read();

    public bool IsRoot => Libc.Geteuid() == 0;

    /// <summary>Read once per process: every machine's cgroup path depends on it, and down looks them up by the thousand.</summary>
    public bool HasSystemdAsInit => _systemdAsInit.Value;

    private readonly Lazy<bool> _systemdAsInit = new(() =>
    {
        try
        {
            return File.ReadAllText("/proc/1/comm").Trim() == "systemd" && Directory.Exists("/run/systemd/system");
        }
        catch (IOException)
        {
            return false;
        }
    });

    public string? UserNamespacesUnavailable => _userNamespaces.Value;

    private string? FindUserNamespacesUnavailable()
    {
        if (!File.Exists("/proc/self/ns/user"))
            return "the kernel has no user namespaces";
        if (Sysctls.ReadInt("user.max_user_namespaces") == 0)
            return "user namespaces are turned off (user.max_user_namespaces = 0)";
        if (Cgroups.Hierarchies().Count == 0)
            return "no unified cgroup hierarchy (cgroup2) is mounted";
        return null;
    }

    public CgroupLayout CgroupLayout =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers") ? CgroupLayout.Unified
        : Directory.Exists("/sys/fs/cgroup/systemd") && Directory.Exists("/sys/fs/cgroup/unified") ? CgroupLayout.Hybrid
        : Directory.Exists("/sys/fs/cgroup/systemd") ? CgroupLayout.Legacy
        : CgroupLayout.None;

    public string? MacOf(string link)
    {
        var address = Path.Combine("/sys/class/net", link, "address");
        try
        {
            return File.Exists(address) ? File.ReadAllText(address).Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public bool NetworkNamespaceExists(string name) => File.Exists(IpTool.NamespacePath(name));

    public bool HasProgram(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, name)));

    /// <summary>A path inside the root of a process (a machine's PID 1), as the host reaches it.</summary>
    public static string InRootOf(int pid, string path) => $"/proc/{pid}/root/{path.TrimStart('/')}";

    /// <summary>The socket systemd answers systemctl on inside a machine, from the host: it exists once systemd can be asked.</summary>
    public static string SystemdBusOf(int leader) => InRootOf(leader, "/run/systemd/private");
}
