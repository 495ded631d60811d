using Spawnlab.Host;

namespace Spawnlab.Tests.Fakes;

/// <summary>
/// A host for unit tests: root, cgroup2, every tool installed, no systemd as init. Its programs answer from
/// <see cref="Shell"/>; its processes, cgroups, namespaces and links exist only in memory.
/// </summary>
internal sealed class FakeHost : IHost
{
    public FakeHost(FakeShell? shell = null)
    {
        Shell = shell ?? new FakeShell();
        Processes = new FakeProcessTable();
        Cgroups = new FakeCgroups();
    }

    public FakeShell Shell { get; }

    IHostShell IHost.Shell => Shell;

    public FakeProcessTable Processes { get; }

    IProcessTable IHost.Processes => Processes;

    public FakeCgroups Cgroups { get; }

    ICgroups IHost.Cgroups => Cgroups;

    public FakeSysctls Sysctls { get; } = new();

    ISysctls IHost.Sysctls => Sysctls;

    public List<MountTable.Mount> MountList { get; } = [];

    public IReadOnlyList<MountTable.Mount> Mounts() => MountList;

    public bool IsRoot { get; set; } = true;

    public bool HasSystemdAsInit => false;

    public string? UserNamespacesUnavailable { get; set; }

    public CgroupLayout CgroupLayout => CgroupLayout.Unified;

    /// <summary>Links by name, with their MAC: what `ip link add` made.</summary>
    public Dictionary<string, string> Links { get; } = new(StringComparer.Ordinal);

    public HashSet<string> Namespaces { get; } = new(StringComparer.Ordinal);

    public string? MacOf(string link) => Links.GetValueOrDefault(link);

    public bool NetworkNamespaceExists(string name) => Namespaces.Contains(name);

    /// <summary>Programs this host lacks; it has every other.</summary>
    public HashSet<string> MissingPrograms { get; } = new(StringComparer.Ordinal);

    public bool HasProgram(string name) => !MissingPrograms.Contains(name);
}

/// <summary>Processes that exist only in memory: started, signalled (any signal ends them) and listed.</summary>
internal sealed class FakeProcessTable : IProcessTable
{
    private readonly Dictionary<int, (HostProcess Process, string[] Arguments)> _alive = [];
    private int _next = 40_000;

    public List<(string Program, IReadOnlyList<string> Arguments)> Started { get; } = [];

    public HostProcess Start(params string[] arguments)
    {
        lock (_alive)
        {
            var process = new HostProcess(++_next, 1_000 + _next);
            _alive[process.Pid] = (process, arguments);
            return process;
        }
    }

    public HostProcess? Find(int pid)
    {
        lock (_alive)
            return _alive.TryGetValue(pid, out var entry) ? entry.Process : null;
    }

    public bool IsAlive(HostProcess process)
    {
        lock (_alive)
            return _alive.TryGetValue(process.Pid, out var entry) && entry.Process == process;
    }

    public bool Signal(HostProcess process, int signal)
    {
        lock (_alive)
            return IsAlive(process) && _alive.Remove(process.Pid);
    }

    public IReadOnlyList<string> Arguments(HostProcess process)
    {
        lock (_alive)
            return IsAlive(process) ? _alive[process.Pid].Arguments : [];
    }

    public IReadOnlyList<int> Children(HostProcess process) => [];

    public IReadOnlyList<HostProcess> Matching(Func<string[], bool> predicate)
    {
        lock (_alive)
            return [.. _alive.Values.Where(e => predicate(e.Arguments)).Select(e => e.Process)];
    }

    public string? NamespaceOf(int? pid, string kind) => pid is null ? $"{kind}:[1]" : $"{kind}:[{pid}]";

    public Task<HostProcess> StartDetachedAsync(string program, IReadOnlyList<string> arguments, string logFile, CancellationToken cancellationToken)
    {
        lock (_alive)
            Started.Add((program, arguments));
        return Task.FromResult(Start([program, .. arguments]));
    }

    public int Count
    {
        get
        {
            lock (_alive)
                return _alive.Count;
        }
    }
}

/// <summary>Cgroups as a set of paths under one fake cgroup2 hierarchy; none is ever populated.</summary>
internal sealed class FakeCgroups : ICgroups
{
    public const string Hierarchy = "/fake/cgroup2";

    public HashSet<string> Existing { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Hierarchies() => [Hierarchy];

    public IReadOnlyList<string> For(string lab, string machine) => [Path.Combine(Hierarchy, MachineCgroup.NameOf(lab, machine))];

    public void Create(IReadOnlyList<string> cgroups, bool frozen)
    {
        lock (Existing)
            Existing.UnionWith(cgroups);
    }

    public void Thaw(IReadOnlyList<string> cgroups)
    {
    }

    public bool IsFrozen(IReadOnlyList<string> cgroups) => false;

    public bool IsPopulated(IReadOnlyList<string> cgroups) => false;

    public bool Exists(string cgroup)
    {
        lock (Existing)
            return Existing.Contains(cgroup);
    }

    public Task RemoveAsync(string cgroup, CancellationToken cancellationToken)
    {
        lock (Existing)
            Existing.Remove(cgroup);
        return Task.CompletedTask;
    }
}

internal sealed class FakeSysctls : ISysctls
{
    public Dictionary<string, int> Values { get; } = new(StringComparer.Ordinal)
    {
        ["net.ipv4.ip_forward"] = 1,
        ["fs.inotify.max_user_instances"] = 8192,
    };

    public bool Exists(string key) => Values.ContainsKey(key);

    public int? ReadInt(string key) => Values.TryGetValue(key, out var value) ? value : null;

    public Task WriteAsync(string key, string value, CancellationToken cancellationToken)
    {
        Values[key] = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return Task.CompletedTask;
    }
}
