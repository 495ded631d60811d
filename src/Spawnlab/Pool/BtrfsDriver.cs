using Spawnlab.Host;

namespace Spawnlab.Pool;

public sealed class BtrfsDriver(IHostShell shell) : IPoolDriver
{
    public string Name => "btrfs";

    public Task CreateAsync(string path, CancellationToken cancellationToken) =>
        shell.RunAsync("btrfs", ["subvolume", "create", path], cancellationToken);

    public Task CloneAsync(string source, string target, bool readOnly, CancellationToken cancellationToken) =>
        shell.RunAsync("btrfs", readOnly ? ["subvolume", "snapshot", "-r", source, target] : ["subvolume", "snapshot", source, target], cancellationToken);

    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path))
            return;
        if (!await IsSubvolumeAsync(path, cancellationToken))
        {
            Directory.Delete(path, recursive: true);
            return;
        }
        // A booted root holds subvolumes of its own (systemd makes /var/lib/machines and /var/lib/portables):
        // they must go first, deepest first, or the delete fails.
        foreach (var nested in await NestedAsync(path, cancellationToken))
            await DeleteAsync(nested, cancellationToken);
        // A read-only snapshot can be deleted as it is; clearing the flag is only needed for its nested ones.
        await shell.RunAsync("btrfs", ["subvolume", "delete", path], cancellationToken);
    }

    private async Task<bool> IsSubvolumeAsync(string path, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("btrfs", "subvolume", "show", path).WithoutThrowing(), cancellationToken)).Succeeded;

    /// <summary>Subvolumes directly below <paramref name="path"/>, as absolute paths.</summary>
    private async Task<IReadOnlyList<string>> NestedAsync(string path, CancellationToken cancellationToken)
    {
        // `list -o` prints paths relative to the filesystem's top level; `show` prints where path itself sits there.
        var own = (await shell.OutputAsync(HostCommand.Of("btrfs", "subvolume", "show", path), cancellationToken))
            .Split('\n')[0].Trim();
        var listing = await shell.OutputAsync(HostCommand.Of("btrfs", "subvolume", "list", "-o", path), cancellationToken);
        var result = new List<string>();
        foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = line.IndexOf(" path ", StringComparison.Ordinal);
            if (at < 0)
                continue;
            var relative = line[(at + 6)..].Trim();
            if (relative.StartsWith("<FS_TREE>/", StringComparison.Ordinal))
                relative = relative["<FS_TREE>/".Length..];
            var prefix = own is "/" ? "" : own.TrimEnd('/') + "/";
            if (!relative.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            result.Add(Path.Combine(path, relative[prefix.Length..]));
        }
        return result.OrderByDescending(p => p.Length).ToList();
    }
}
