namespace Spawnlab.Pool;

/// <summary>
/// The names of work in progress in the pool: a root being made (a snapshot, a bootstrap) is written under a temporary
/// name and renamed when done; a live root being replaced is set aside first. Either one left over means the work
/// was interrupted, and it may still have a writer that outlived a killed CLI.
/// </summary>
public static class Leftovers
{
    public const string TemporaryPrefix = ".tmp-";
    public const string SetAsideMarker = ".old-";

    /// <summary>A temporary name for <paramref name="name"/> in the same folder.</summary>
    public static string Temporary(string folder, string name) => Path.Combine(folder, TemporaryPrefix + name);

    /// <summary>A name to set <paramref name="root"/> aside under, beside it.</summary>
    public static string SetAside(string root) => $"{root}{SetAsideMarker}{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>The roots set aside from <paramref name="root"/> match this prefix.</summary>
    public static string SetAsidePrefix(string root) => root + SetAsideMarker;

    public static bool IsLeftover(string path) =>
        Path.GetFileName(path).StartsWith(TemporaryPrefix, StringComparison.Ordinal) || Path.GetFileName(path).Contains(SetAsideMarker, StringComparison.Ordinal);
}
