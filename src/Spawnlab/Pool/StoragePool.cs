namespace Spawnlab.Pool;

/// <summary>
/// Where images, machine roots and snapshots live. Every path it deletes must lie strictly inside it,
/// whatever a state file says.
/// </summary>
public sealed class StoragePool(string root, IPoolDriver driver, Host.IHostShell shell)
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
        if (Path.GetFileName(inside).StartsWith(".tmp-", StringComparison.Ordinal) || Path.GetFileName(inside).Contains(".old-", StringComparison.Ordinal))
        {
            foreach (var writer in Host.HostProcess.Naming(inside))
            {
                writer.Signal(Host.HostProcess.SigKill);
                await writer.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            }
        }
        foreach (var mount in MountsBelow(inside))
            await UnmountAsync(mount, cancellationToken);
        await Driver.DeleteAsync(inside, cancellationToken);
    }

    private static IEnumerable<string> MountsBelow(string path) =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(mount => mount.StartsWith(path + "/", StringComparison.Ordinal))
            .OrderByDescending(mount => mount.Length)
            .ToList();

    private Task UnmountAsync(string mount, CancellationToken cancellationToken) =>
        shell.RunAsync(Host.HostCommand.Of("umount", "-l", mount).WithoutThrowing(), cancellationToken);

    /// <summary>Refuses any path that is not strictly below the pool's root.</summary>
    public string Inside(string path)
    {
        var full = Path.GetFullPath(path);
        var relative = Path.GetRelativePath(Root, full);
        if (!Path.IsPathRooted(path) || relative == "." || relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative))
            throw new SpawnlabException($"refusing to delete {path}: it is not inside the pool {Root}");
        return full;
    }
}
