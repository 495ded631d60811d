namespace Spawnlab.Ansible;

/// <summary>
/// Spawnlab's Ansible collection, spawnlab.lab, whose connection plugin (<c>spawnlab.lab.machine</c>) reaches machines
/// without SSH. It ships inside Spawnlab and is written out into a collections folder: Spawnlab's own for `ansible:`
/// stages, and Ansible's system-wide one so that `ansible -i "$(spawnlab inventory)"` works with no other setup.
/// </summary>
public static class AnsibleCollection
{
    /// <summary>A folder that Ansible searches for collections by default (COLLECTIONS_PATHS).</summary>
    public const string SystemCollections = "/usr/share/ansible/collections";

    private const string Prefix = "ansible/";

    private static IEnumerable<(string Path, byte[] Content)> Files()
    {
        var assembly = typeof(AnsibleCollection).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            yield return (name[Prefix.Length..].Replace('\\', '/'), copy.ToArray());
        }
    }

    /// <summary>
    /// The collections folder Ansible searches first: the first of ANSIBLE_COLLECTIONS_PATH when it is set (Ansible then
    /// looks nowhere else), otherwise the system-wide one.
    /// </summary>
    public static string WhereAnsibleLooks(string? collectionsPath) =>
        collectionsPath?.Split(':', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() is { } first
            ? first.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), first[2..]) : first
            : SystemCollections;

    /// <summary>Where the collection lives under a collections folder.</summary>
    public static string PathIn(string collections) => Path.Combine(collections, "ansible_collections", "spawnlab", "lab");

    /// <summary>Whether the collection under <paramref name="collections"/> is this Spawnlab's, file for file.</summary>
    public static bool IsInstalled(string collections) =>
        Files().All(f => File.Exists(Path.Combine(PathIn(collections), f.Path)) && File.ReadAllBytes(Path.Combine(PathIn(collections), f.Path)).SequenceEqual(f.Content));

    /// <summary>Writes the collection under <paramref name="collections"/> (each file aside, then renamed); returns whether anything changed.</summary>
    public static bool Install(string collections)
    {
        if (IsInstalled(collections))
            return false;
        foreach (var (path, content) in Files())
        {
            var target = Path.Combine(PathIn(collections), path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllBytes(target + ".new", content);
            File.Move(target + ".new", target, overwrite: true);
        }
        return true;
    }

}
