namespace Spawnlab.Host;

/// <summary>What kind of host this is: its init, its user namespaces, its cgroup layout.</summary>
public static class HostSystem
{
    /// <summary>Whether PID 1 is systemd (so machined can register machines).</summary>
    public static bool HasSystemdAsInit()
    {
        try
        {
            return File.ReadAllText("/proc/1/comm").Trim() == "systemd" && Directory.Exists("/run/systemd/system");
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Why machines cannot have user namespaces here, or null when they can.</summary>
    public static string? UserNamespacesUnavailable()
    {
        if (!File.Exists("/proc/self/ns/user"))
            return "the kernel has no user namespaces";
        if (Sysctl.ReadInt("user.max_user_namespaces") == 0)
            return "user namespaces are turned off (user.max_user_namespaces = 0)";
        if (MachineCgroup.Hierarchies().Count == 0)
            return "no unified cgroup hierarchy (cgroup2) is mounted";
        return null;
    }

    public enum CgroupLayout
    {
        Unified,
        Hybrid,
        Legacy,
        None,
    }

    /// <summary>How /sys/fs/cgroup is laid out.</summary>
    public static CgroupLayout Cgroups() =>
        File.Exists("/sys/fs/cgroup/cgroup.controllers") ? CgroupLayout.Unified
        : Directory.Exists("/sys/fs/cgroup/systemd") && Directory.Exists("/sys/fs/cgroup/unified") ? CgroupLayout.Hybrid
        : Directory.Exists("/sys/fs/cgroup/systemd") ? CgroupLayout.Legacy
        : CgroupLayout.None;

    /// <summary>The namespace of a kind ("pid", "net") that a process ("self" or a pid) is in, as its /proc link names it; null once it is gone.</summary>
    public static string? NamespaceOf(string process, string kind)
    {
        try
        {
            return new FileInfo($"/proc/{process}/ns/{kind}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A path inside the root of a process (a machine's PID 1), as the host reaches it.</summary>
    public static string InRootOf(int pid, string path) => $"/proc/{pid}/root/{path.TrimStart('/')}";

    /// <summary>The socket systemd answers systemctl on inside a machine, from the host: it exists once systemd can be asked.</summary>
    public static string SystemdBusOf(int leader) => InRootOf(leader, "/run/systemd/private");

    /// <summary>The MAC address of a host interface; null when there is no such interface.</summary>
    public static string? MacOf(string link)
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
}
