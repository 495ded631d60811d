namespace Spawnlab.Host;

/// <summary>
/// The cgroups of a machine, by which all of its processes are killed whatever became of its systemd-nspawn (killed
/// alone, nspawn leaves the machine running). systemd-nspawn with <c>--keep-unit</c> keeps the cgroup it was started
/// in and hands it to the machine, so each machine (but one that registers with machined, which makes a scope for
/// it) is started in cgroups of its own: one directory per hierarchy that systemd uses (the unified one, and the named
/// systemd one on hybrid hosts). nspawn puts the machine in the child <c>payload</c>; for a machine in a user
/// namespace, Spawnlab makes that child beforehand and freezes it, so that nothing in the machine runs until its
/// interfaces are in place, then thaws it.
/// </summary>
public sealed class MachineCgroup(Func<IReadOnlyList<MountTable.Mount>> mounts) : ICgroups
{
    public const string Prefix = "spawnlab-";

    private const string Payload = "payload";

    /// <summary>The name of a machine's cgroup in each hierarchy.</summary>
    public static string NameOf(string lab, string machine) => $"{Prefix}{lab}-{machine}";

    public IReadOnlyList<string> Hierarchies()
    {
        var all = mounts();
        var unified = all.FirstOrDefault(m => m.Type == "cgroup2")?.MountPoint;
        var named = all.FirstOrDefault(m => m.Type == "cgroup" && m.SuperOptions.Contains("name=systemd"))?.MountPoint;
        return unified is null ? [] : named is null ? [unified] : [unified, named];
    }

    public void Create(IReadOnlyList<string> cgroups, bool frozen)
    {
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
    /// Kills whatever still runs in the cgroup, then removes it with its children (systemd inside makes its own).
    /// Refuses anything that is not a Spawnlab cgroup at the top of a cgroup hierarchy.
    /// </summary>
    public async Task RemoveAsync(string cgroup, CancellationToken cancellationToken)
    {
        RequireOwn(cgroup);
        if (!Directory.Exists(cgroup))
            return;
        var kill = Path.Combine(cgroup, "cgroup.kill");
        if (File.Exists(kill) && Populated(cgroup))
            await File.WriteAllTextAsync(kill, "1", cancellationToken);
        if (!await Poll.UntilAsync(() => !Populated(cgroup), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20), cancellationToken))
            throw new SpawnlabException($"cgroup {cgroup} still has processes 10 s after they were killed");
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
        if (!Path.GetFileName(cgroup).StartsWith(Prefix, StringComparison.Ordinal) || parent is null || !Hierarchies().Contains(parent))
            throw new SpawnlabException($"refusing to touch cgroup {cgroup}: it is not a Spawnlab cgroup at the top of a cgroup hierarchy");
        return cgroup;
    }
}
