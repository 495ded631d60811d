namespace Spawnlab.Machines;

/// <summary>Whether this host can run machines in user namespaces of their own.</summary>
public static class UserNamespaces
{
    /// <summary>Why machines cannot have user namespaces here, or null when they can.</summary>
    public static string? Unavailable()
    {
        const string limit = "/proc/sys/user/max_user_namespaces";
        if (!File.Exists("/proc/self/ns/user"))
            return "the kernel has no user namespaces";
        if (File.Exists(limit) && File.ReadAllText(limit).Trim() == "0")
            return "user namespaces are turned off (user.max_user_namespaces = 0)";
        if (MachineCgroup.Hierarchies().Count == 0)
            return "no unified cgroup hierarchy (cgroup2) is mounted";
        return null;
    }
}
