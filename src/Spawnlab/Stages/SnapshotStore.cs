using Spawnlab.Lifecycle;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.Stages;

/// <summary>
/// Read-only snapshots of a machine's root, one per stage key, and the restore of a root to one of them
/// (as Incus does: the live root is renamed aside, a writable snapshot takes its place, the old one is deleted).
/// On btrfs both take constant time whatever the size of the root.
/// </summary>
public sealed class SnapshotStore(StoragePool pool, StateJournal journal, string lab, string machine)
{
    public string Directory => Path.Combine(pool.LabDirectory(lab), "snapshots", machine);

    public string PathOf(string key) => Path.Combine(Directory, key);

    public bool Exists(string key) => System.IO.Directory.Exists(PathOf(key));

    /// <summary>
    /// Snapshots the live root under a temporary name and renames it into place: an interruption never leaves a
    /// snapshot that looks good.
    /// </summary>
    public async Task CreateAsync(string root, string key, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var final = new HostObject(HostObjectKind.Root, PathOf(key));
        var temporary = new HostObject(HostObjectKind.Root, Leftovers.Temporary(Directory, key));
        await pool.DeleteAsync(temporary.Name, cancellationToken);
        if (Exists(key))
            await DeleteAsync(key, cancellationToken);
        journal.Record(temporary);
        await pool.Driver.CloneAsync(root, temporary.Name, readOnly: true, cancellationToken);
        journal.Record(final);
        System.IO.Directory.Move(temporary.Name, final.Name);
        journal.Forget(temporary);
    }

    /// <summary>Puts <paramref name="source"/> (a snapshot or an image) in place of the live root; the machine must be stopped.</summary>
    public async Task RestoreAsync(string source, string root, CancellationToken cancellationToken)
    {
        // A restore that was killed left the root it set aside: it goes now, not at the next clean.
        foreach (var leftover in journal.Recorded(o => o.Kind == HostObjectKind.Root && o.Name.StartsWith(Leftovers.SetAsidePrefix(root), StringComparison.Ordinal)))
        {
            await pool.DeleteAsync(leftover.Name, cancellationToken);
            journal.Forget(leftover);
        }
        var aside = new HostObject(HostObjectKind.Root, Leftovers.SetAside(root));
        if (System.IO.Directory.Exists(root))
        {
            journal.Record(aside);
            System.IO.Directory.Move(root, aside.Name);
        }
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(root)!);
        await pool.Driver.CloneAsync(source, root, readOnly: false, cancellationToken);
        if (journal.Has(aside))
        {
            await pool.DeleteAsync(aside.Name, CancellationToken.None);
            journal.Forget(aside);
        }
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        await pool.DeleteAsync(PathOf(key), cancellationToken);
        journal.Forget(new HostObject(HostObjectKind.Root, PathOf(key)));
    }

    /// <summary>Deletes the snapshots whose keys are no longer part of the machine's stages, and leftovers of interrupted ones.</summary>
    public async Task PruneAsync(IReadOnlyCollection<string> keep, CancellationToken cancellationToken)
    {
        if (!System.IO.Directory.Exists(Directory))
            return;
        foreach (var path in System.IO.Directory.EnumerateDirectories(Directory).ToList())
        {
            var name = Path.GetFileName(path);
            if (keep.Contains(name))
                continue;
            await pool.DeleteAsync(path, cancellationToken);
            journal.Forget(new HostObject(HostObjectKind.Root, path));
        }
    }
}
