using Spawnlab.Host;

namespace Spawnlab.Pool;

public sealed class BtrfsDriver(IHostShell shell) : IPoolDriver
{
    // The inode of every subvolume's top directory (BTRFS_FIRST_FREE_OBJECTID).
    private const string SubvolumeInode = "256";

    public string Name => "btrfs";

    public Task CreateAsync(string path, CancellationToken cancellationToken) =>
        shell.RunAsync("btrfs", ["subvolume", "create", path], cancellationToken);

    public Task CloneAsync(string source, string target, bool readOnly, CancellationToken cancellationToken) =>
        shell.RunAsync("btrfs", readOnly ? ["subvolume", "snapshot", "-r", source, target] : ["subvolume", "snapshot", source, target], cancellationToken);

    /// <summary>
    /// Deletes a subvolume with the subvolumes a machine made inside it (systemd makes /var/lib/machines and
    /// /var/lib/portables; a machine's own code may make any, with any name, read-only or not). The caller has
    /// checked that <paramref name="path"/> is inside the pool with no link on the way; what lies below it is the
    /// machine's. So nested subvolumes are found by walking real directories (never following a link, never parsing a
    /// listing in which a name may forge a line), and are first moved, by a shell that keeps their names as bytes, to
    /// names of Spawnlab's own right below <paramref name="path"/>, which is made writable for that.
    /// </summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path) || new FileInfo(path).LinkTarget is not null)
            return;
        if (!await IsSubvolumeAsync(path, cancellationToken))
        {
            // A plain folder: rm never follows a link, and stays on this subvolume.
            await shell.RunAsync("rm", ["-rf", "--one-file-system", "--", path], cancellationToken);
            return;
        }
        if (await MayHoldSubvolumesAsync(path, cancellationToken)
            && (await shell.RunAsync(FindNested(path, "-printf", "x"), cancellationToken)).StandardOutput.Length > 0)
        {
            await shell.RunAsync("btrfs", ["property", "set", "-ts", "--", path, "ro", "false"], cancellationToken);
            await shell.RunAsync(FindNested(path, "-exec", "sh", "-c", MoveToTop, path, "{}", "+"), cancellationToken);
            foreach (var inner in Directory.EnumerateDirectories(path, NestedPrefix + "*").ToList())
                await DeleteAsync(inner, cancellationToken);
        }
        await shell.RunAsync("btrfs", ["subvolume", "delete", "--", path], cancellationToken);
    }

    private const string NestedPrefix = ".spawnlab-nested-";

    // $0 is the subvolume; each argument, a subvolume below it, goes right below it under a name of Spawnlab's (one
    // moved there already stays). A read-only one cannot be moved: it is made writable first.
    private const string MoveToTop =
        "for s; do case $s in \"$0\"/" + NestedPrefix + "*) continue;; esac; " +
        "t=$(mktemp -u -p \"$0\" " + NestedPrefix + "XXXXXXXX) && " +
        "{ mv -T -- \"$s\" \"$t\" 2>/dev/null || { btrfs property set -ts -- \"$s\" ro false && mv -T -- \"$s\" \"$t\"; }; } || exit 1; done";

    /// <summary>
    /// find over the subvolumes directly inside the subvolume <paramref name="path"/>: directories below it, on its
    /// own device, whose inode is a subvolume's top one. find never follows a link.
    /// </summary>
    private static HostCommand FindNested(string path, params string[] action) =>
        HostCommand.Of("find", [path, "-mindepth", "1", "-xdev", "-type", "d", "-inum", SubvolumeInode, "-prune", .. action]);

    /// <summary>
    /// Whether btrfs lists any subvolume right below the subvolume: walking a whole root to find them costs a second
    /// of a core per root, asking btrfs a few milliseconds. Only an empty listing is believed (a name may forge lines,
    /// never remove them); anything else, or a failure, is walked.
    /// </summary>
    private async Task<bool> MayHoldSubvolumesAsync(string path, CancellationToken cancellationToken)
    {
        var listing = await shell.RunAsync(HostCommand.Of("btrfs", "subvolume", "list", "-o", "--", path).WithoutThrowing(), cancellationToken);
        return !listing.Succeeded || listing.StandardOutput.Length > 0;
    }

    private async Task<bool> IsSubvolumeAsync(string path, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("btrfs", "subvolume", "show", "--", path).WithoutThrowing(), cancellationToken)).Succeeded;
}
