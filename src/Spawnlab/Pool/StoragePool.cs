namespace Spawnlab.Pool;

/// <summary>
/// Where images, machine roots and snapshots live. Every path it deletes must lie strictly inside it, reached without
/// a symbolic link on the way, whatever a state file says and whatever a machine planted in its root.
/// </summary>
public sealed class StoragePool(string root, IPoolDriver driver, Host.IHost host)
{
    public string Root { get; } = Path.GetFullPath(root);
    public IPoolDriver Driver { get; } = driver;

    public string ImagesDirectory => Path.Combine(Root, "images");

    public string LabDirectory(string lab) => Path.Combine(Root, "labs", lab);

    public string MachineRoot(string lab, string machine) => Path.Combine(LabDirectory(lab), "machines", machine);

    /// <summary>
    /// Deletes a root of the pool. Mounts below it go first (debootstrap killed in its second stage leaves /proc and
    /// /sys mounted in the root it was making), deepest first. The leftover of interrupted work (a temporary or
    /// set-aside root) may still have a writer that a killed CLI left behind (the cp of a snapshot): it is killed first.
    /// </summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var inside = Inside(path);
        if (Leftovers.IsLeftover(inside))
        {
            foreach (var writer in Host.HostExtensions.Naming(host.Processes, inside))
            {
                host.Processes.Signal(writer, Host.HostProcess.SigKill);
                await Host.HostExtensions.WaitForExitAsync(host.Processes, writer, TimeSpan.FromSeconds(5), cancellationToken);
            }
        }
        foreach (var mount in MountsBelow(inside))
            await UnmountAsync(mount, cancellationToken);
        await Driver.DeleteAsync(inside, cancellationToken);
    }

    /// <summary>Removes a plain folder of the pool (a lab's, a machine's snapshots) once it is empty; one that is not stays, and is named.</summary>
    public string? DeleteIfEmpty(string path)
    {
        var inside = Inside(path);
        if (!Directory.Exists(inside))
            return null;
        if (Directory.EnumerateFileSystemEntries(inside).Any())
            return inside;
        Directory.Delete(inside);
        return null;
    }

    /// <summary>Deletes the lock file that systemd-nspawn makes beside a root it boots (<c>.#NAME.lck</c>), which a killed nspawn leaves.</summary>
    public void DeleteLockOf(string root)
    {
        var inside = Inside(root);
        var lockFile = Path.Combine(Path.GetDirectoryName(inside)!, $".#{Path.GetFileName(inside)}.lck");
        if (File.Exists(lockFile) && new FileInfo(lockFile).LinkTarget is null)
            File.Delete(lockFile);
    }

    private IEnumerable<string> MountsBelow(string path) =>
        host.Mounts()
            .Select(m => m.MountPoint)
            .Where(mount => mount.StartsWith(path + "/", StringComparison.Ordinal))
            .OrderByDescending(mount => mount.Length)
            .ToList();

    private Task UnmountAsync(string mount, CancellationToken cancellationToken) =>
        host.Shell.RunAsync(Host.HostCommand.Of("umount", "-l", mount).WithoutThrowing(), cancellationToken);

    /// <summary>
    /// Refuses any path that is not strictly below the pool's root, or that a symbolic link on the way would lead
    /// elsewhere (a machine's root is the machine's to fill with links).
    /// </summary>
    public string Inside(string path) =>
        Refusal(path) is { } refusal ? throw new SpawnlabException($"refusing to delete {path}: {refusal}") : Path.GetFullPath(path);

    /// <summary>Why <paramref name="path"/> is not the pool's to delete, or null when it is.</summary>
    public string? Refusal(string path)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(Root, full);
        if (!Path.IsPathRooted(path) || relative == "." || relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
            return $"it is not inside the pool {Root}";
        return LinkBetween(Root, full) is { } link ? $"{link} on the way is a symbolic link" : null;
    }

    /// <summary>The first symbolic link among the components of <paramref name="path"/> below <paramref name="top"/> (path itself included), if any.</summary>
    private static string? LinkBetween(string top, string path)
    {
        var current = top;
        foreach (var part in Path.GetRelativePath(top, path).Split('/'))
        {
            current = Path.Combine(current, part);
            if (new FileInfo(current).LinkTarget is not null)
                return current;
        }
        return null;
    }
}
