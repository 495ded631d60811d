namespace Spawnlab.Pool;

/// <summary>
/// Where images, machine roots and snapshots live. Every path it deletes must lie strictly inside it,
/// whatever a state file says.
/// </summary>
public sealed class StoragePool(string root, IPoolDriver driver)
{
    public string Root { get; } = Path.GetFullPath(root);
    public IPoolDriver Driver { get; } = driver;

    public string ImagesDirectory => Path.Combine(Root, "images");

    public string LabDirectory(string lab) => Path.Combine(Root, "labs", lab);

    public string MachineRoot(string lab, string machine) => Path.Combine(LabDirectory(lab), "machines", machine);

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => Driver.DeleteAsync(Inside(path), cancellationToken);

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
