namespace Spawnlab.Host;

/// <summary>
/// The cgroups of a machine, by which all of its processes are killed whatever became of its systemd-nspawn (killed
/// alone, nspawn leaves the machine running). systemd-nspawn with <c>--keep-unit</c> keeps the cgroup it was started
/// in and hands it to the machine. Where systemd is not PID 1, each machine is started in cgroups Spawnlab makes at
/// the top of each hierarchy that systemd uses (the unified one, and the named systemd one on hybrid hosts). Where it
/// is, each machine runs in a transient scope unit of its own in machine.slice (systemd-run with Delegate=yes), so
/// that systemd made its cgroup, machined knows it and stopping the unit stops the machine. nspawn puts the machine in
/// the child <c>payload</c>; for a machine in a user namespace, that child is made beforehand and frozen, so that
/// nothing in the machine runs until its interfaces are in place, then thawed.
/// </summary>
public sealed class MachineCgroup(Func<IReadOnlyList<MountTable.Mount>> mounts, Func<bool> systemdAsInit, IHostShell shell) : ICgroups
{
    public const string Prefix = "spawnlab-";

    /// <summary>Where systemd puts the scopes of machines, as machined's own do.</summary>
    public const string MachineSlice = "machine.slice";

    private const string Payload = "payload";

    /// <summary>The name of a machine's cgroup in each hierarchy.</summary>
    public static string NameOf(string lab, string machine) => $"{Prefix}{lab}-{machine}";

    /// <summary>The scope unit a machine's cgroup is, or null for a cgroup Spawnlab made itself.</summary>
    public static string? ScopeOf(string cgroup) =>
        Path.GetFileName(cgroup) is var name && name.EndsWith(".scope", StringComparison.Ordinal)
        && Path.GetFileName(Path.GetDirectoryName(cgroup)) == MachineSlice ? name : null;

    public IReadOnlyList<string> For(string lab, string machine) =>
        systemdAsInit()
            ? [.. Hierarchies().Select(h => Path.Combine(h, MachineSlice, NameOf(lab, machine) + ".scope"))]
            : [.. Hierarchies().Select(h => Path.Combine(h, NameOf(lab, machine)))];

    private IReadOnlyList<string>? _hierarchies;

    /// <summary>Read once per process: the mount table is read whole, and down asks for every object of a hundred machines.</summary>
    public IReadOnlyList<string> Hierarchies()
    {
        if (_hierarchies is { } known)
            return known;
        var all = mounts();
        var unified = all.FirstOrDefault(m => m.Type == "cgroup2")?.MountPoint;
        var named = all.FirstOrDefault(m => m.Type == "cgroup" && m.SuperOptions.Contains("name=systemd"))?.MountPoint;
        return _hierarchies = unified is null ? [] : named is null ? [unified] : [unified, named];
    }

    public void Create(IReadOnlyList<string> cgroups, bool frozen)
    {
        // systemd makes a scope's cgroups when the machine starts in it; the machine's start makes its payload.
        if (cgroups.Any(c => ScopeOf(c) is not null))
            throw new InvalidOperationException("the cgroups of a scope are made by systemd");
        foreach (var cgroup in cgroups)
            Directory.CreateDirectory(Path.Combine(RequireOwn(cgroup), Payload));
        if (frozen)
            SetFrozen(cgroups, true);
    }

    public void Thaw(IReadOnlyList<string> cgroups) => SetFrozen(cgroups, false);

    public bool IsFrozen(IReadOnlyList<string> cgroups) =>
        cgroups.Count > 0 && File.Exists(FreezeFile(cgroups[0])) && File.ReadAllText(FreezeFile(cgroups[0])).Trim() == "1";

    public bool Exists(string cgroup) => Directory.Exists(cgroup);

    /// <summary>
    /// Kills whatever still runs in the cgroup, then removes it with its children (systemd inside makes its own); a
    /// scope's unit is stopped and forgotten by systemd. Refuses anything that is not a Spawnlab cgroup at the top of
    /// a cgroup hierarchy or a Spawnlab scope in its machine.slice.
    /// </summary>
    public async Task RemoveAsync(string cgroup, CancellationToken cancellationToken)
    {
        RequireOwn(cgroup);
        if (Directory.Exists(cgroup))
        {
            var kill = Path.Combine(cgroup, "cgroup.kill");
            if (File.Exists(kill) && Populated(cgroup))
                await File.WriteAllTextAsync(kill, "1", cancellationToken);
            if (!await Poll.UntilAsync(() => !Populated(cgroup), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20), cancellationToken))
                throw new SpawnlabException($"cgroup {cgroup} still has processes 10 s after they were killed");
        }
        // An empty scope stops at once; a failed one stays listed until it is reset. Neither is an error once gone.
        if (ScopeOf(cgroup) is { } unit && systemdAsInit())
        {
            await shell.RunAsync(HostCommand.Of("systemctl", ["stop", unit]).WithoutThrowing(), cancellationToken);
            await shell.RunAsync(HostCommand.Of("systemctl", ["reset-failed", unit]).WithoutThrowing(), cancellationToken);
        }
        if (!Directory.Exists(cgroup))
            return;
        // Deepest first: a cgroup goes only once it has no children. Its control files are not files to delete.
        foreach (var child in Directory.EnumerateDirectories(cgroup, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).ToList())
            Directory.Delete(child);
        Directory.Delete(cgroup);
    }

    public bool IsPopulated(IReadOnlyList<string> cgroups) => cgroups.Any(Populated);

    /// <summary>Whether any process is in the cgroup or below it.</summary>
    private static bool Populated(string cgroup)
    {
        if (!Directory.Exists(cgroup))
            return false;
        var events = Path.Combine(cgroup, "cgroup.events");
        if (File.Exists(events))
            return File.ReadLines(events).Any(l => l == "populated 1");
        // A cgroup v1 hierarchy has no summary: every cgroup.procs below is read.
        return Directory.EnumerateFiles(cgroup, "cgroup.procs", SearchOption.AllDirectories)
            .Any(f => File.ReadAllText(f).Trim().Length > 0);
    }

    private static void SetFrozen(IReadOnlyList<string> cgroups, bool frozen)
    {
        var freeze = cgroups.Count > 0 ? FreezeFile(cgroups[0]) : null;
        if (freeze is not null && File.Exists(freeze))
            File.WriteAllText(freeze, frozen ? "1" : "0");
    }

    private static string FreezeFile(string cgroup) => Path.Combine(cgroup, Payload, "cgroup.freeze");

    private string RequireOwn(string cgroup)
    {
        var parent = Path.GetDirectoryName(cgroup);
        if (parent is not null && ScopeOf(cgroup) is not null)
            parent = Path.GetDirectoryName(parent);
        if (!Path.GetFileName(cgroup).StartsWith(Prefix, StringComparison.Ordinal) || parent is null || !Hierarchies().Contains(parent))
            throw new SpawnlabException($"refusing to touch cgroup {cgroup}: it is not a Spawnlab cgroup at the top of a cgroup hierarchy or in its {MachineSlice}");
        return cgroup;
    }
}
