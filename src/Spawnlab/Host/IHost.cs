namespace Spawnlab.Host;

/// <summary>
/// The host as the library sees it: its programs, its processes, its cgroups, its mounts and kernel settings, and who
/// runs Spawnlab. <see cref="LinuxHost"/> is the real one; unit tests give the lifecycle a fake.
/// </summary>
public interface IHost
{
    IHostShell Shell { get; }

    IProcessTable Processes { get; }

    ICgroups Cgroups { get; }

    ISysctls Sysctls { get; }

    /// <summary>The mounts this process sees.</summary>
    IReadOnlyList<MountTable.Mount> Mounts();

    bool IsRoot { get; }

    /// <summary>Whether PID 1 is systemd (so machined can register machines).</summary>
    bool HasSystemdAsInit { get; }

    /// <summary>Why machines cannot have user namespaces here, or null when they can.</summary>
    string? UserNamespacesUnavailable { get; }

    /// <summary>How /sys/fs/cgroup is laid out.</summary>
    CgroupLayout CgroupLayout { get; }

    /// <summary>The MAC address of a host interface; null when there is no such interface.</summary>
    string? MacOf(string link);

    /// <summary>Whether a named network namespace (ip netns) exists.</summary>
    bool NetworkNamespaceExists(string name);

    /// <summary>Whether a program is installed, on the PATH or in the usual system folders.</summary>
    bool HasProgram(string name);
}

/// <summary>The host's processes, each known by its pid and start time so that a reused pid is never taken for it.</summary>
public interface IProcessTable
{
    HostProcess? Find(int pid);

    bool IsAlive(HostProcess process);

    /// <summary>Sends a signal if the process is still the one recorded; returns whether it was.</summary>
    bool Signal(HostProcess process, int signal);

    /// <summary>The process's command line, split into its arguments; empty once it is gone.</summary>
    IReadOnlyList<string> Arguments(HostProcess process);

    /// <summary>The pids of the process's direct children.</summary>
    IReadOnlyList<int> Children(HostProcess process);

    /// <summary>The live processes (but this one) whose command line, split into its arguments, satisfies the predicate.</summary>
    IReadOnlyList<HostProcess> Matching(Func<string[], bool> predicate);

    /// <summary>The namespace of a kind ("pid", "net") a process is in (null for this process), as its /proc link names it; null once it is gone.</summary>
    string? NamespaceOf(int? pid, string kind);

    /// <summary>Starts a long-lived program in a session of its own, so that it outlives the CLI, with its output in a capped log file.</summary>
    Task<HostProcess> StartDetachedAsync(string program, IReadOnlyList<string> arguments, string logFile, CancellationToken cancellationToken);
}

/// <summary>The cgroups Spawnlab makes for machines: see <see cref="MachineCgroup"/>.</summary>
public interface ICgroups
{
    /// <summary>The mount points of the cgroup hierarchies systemd uses, the unified (cgroup2) one first; empty without cgroup2.</summary>
    IReadOnlyList<string> Hierarchies();

    /// <summary>The cgroup directories of a machine, one per hierarchy, the unified one first.</summary>
    IReadOnlyList<string> For(string lab, string machine);

    /// <summary>Makes the cgroups and their payload children; <paramref name="frozen"/> freezes the machine's payload before it has a process.</summary>
    void Create(IReadOnlyList<string> cgroups, bool frozen);

    void Thaw(IReadOnlyList<string> cgroups);

    /// <summary>Whether the machine is held frozen, as a CLI killed between its start and its wiring leaves it.</summary>
    bool IsFrozen(IReadOnlyList<string> cgroups);

    /// <summary>Whether any process of the machine runs in its cgroups, with or without its systemd-nspawn.</summary>
    bool IsPopulated(IReadOnlyList<string> cgroups);

    bool Exists(string cgroup);

    /// <summary>Kills whatever still runs in the cgroup, then removes it with its children; refuses a cgroup that is not Spawnlab's.</summary>
    Task RemoveAsync(string cgroup, CancellationToken cancellationToken);
}

/// <summary>The kernel's settings, named as sysctl names them (net.ipv4.ip_forward).</summary>
public interface ISysctls
{
    bool Exists(string key);

    /// <summary>The setting as a number; null where it does not exist or does not read as one.</summary>
    int? ReadInt(string key);

    Task WriteAsync(string key, string value, CancellationToken cancellationToken);
}

public enum CgroupLayout
{
    Unified,
    Hybrid,
    Legacy,
    None,
}

public static class HostExtensions
{
    public static void RequireRoot(this IHost host, string what)
    {
        if (!host.IsRoot)
            throw new SpawnlabException($"{what} needs root: it creates bridges, namespaces, mounts and containers; run it with sudo");
    }

    /// <summary>Whether a recorded process (null when none was recorded) still runs.</summary>
    public static bool IsRunning(this IProcessTable processes, HostProcess? process) => process is not null && processes.IsAlive(process);

    public static Task<bool> WaitForExitAsync(this IProcessTable processes, HostProcess process, TimeSpan timeout, CancellationToken cancellationToken) =>
        Poll.UntilAsync(() => !processes.IsAlive(process), timeout, TimeSpan.FromMilliseconds(50), cancellationToken);

    /// <summary>Asks a process to end (SIGTERM); past <paramref name="timeout"/>, kills it.</summary>
    public static async Task TerminateAsync(this IProcessTable processes, HostProcess process, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (processes.Signal(process, HostProcess.SigTerm) && !await processes.WaitForExitAsync(process, timeout, cancellationToken))
        {
            processes.Signal(process, HostProcess.SigKill);
            if (!await processes.WaitForExitAsync(process, TimeSpan.FromSeconds(10), cancellationToken))
                throw new SpawnlabException($"pid {process.Pid} survived SIGKILL");
        }
    }

    /// <summary>
    /// Processes whose command line names <paramref name="path"/> or a path below it: what a killed CLI left working
    /// there (a cp making a snapshot, a debootstrap), which outlives its parent.
    /// </summary>
    public static IReadOnlyList<HostProcess> Naming(this IProcessTable processes, string path) =>
        processes.Matching(arguments => arguments.Any(a => a == path || a.StartsWith(path + "/", StringComparison.Ordinal)));
}
