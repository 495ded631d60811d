using Spawnlab.Host;
using Spawnlab.Images;
using Spawnlab.Pool;

namespace Spawnlab.Lifecycle;

/// <summary>An image of the pool: its name and key, where it is, what it was made from, and what uses it.</summary>
public sealed record PoolImage(string Name, string Key, string Path, ImageRecord? Record, IReadOnlyList<string> UsedBy)
{
    public string Folder => System.IO.Path.GetFileName(Path);
}

public sealed partial class LabController
{
    /// <summary>Every image in the pool (none when there is no pool yet).</summary>
    public async Task<IReadOnlyList<PoolImage>> ImagesAsync(CancellationToken cancellationToken)
    {
        if (await ExistingPoolAsync(cancellationToken) is not { } pool)
            return [];
        var labs = Store.LoadAll();
        var folders = Directory.EnumerateDirectories(pool.ImagesDirectory).Where(d => !Leftovers.IsLeftover(d)).Order(StringComparer.Ordinal).ToList();
        var records = folders.ToDictionary(f => f, ImageRecord.Read, StringComparer.Ordinal);
        return [.. folders.Select(folder =>
        {
            var name = Path.GetFileName(folder);
            var dash = name.LastIndexOf('-');
            var usedBy = labs
                .Select(l => (l.Lab, Machines: l.Machines.Values.Where(m => m.Image == folder).Select(m => m.Name).ToList()))
                .Where(l => l.Machines.Count > 0)
                .Select(l => $"lab {l.Lab} ({string.Join(", ", l.Machines)})")
                .Concat(records.Where(r => r.Value?.Parent == name).Select(r => $"image {Path.GetFileName(r.Key)}"))
                .ToList();
            return new PoolImage(dash > 0 ? name[..dash] : name, dash > 0 ? name[(dash + 1)..] : "", folder, records[folder], usedBy);
        })];
    }

    /// <summary>Removes the images named NAME (every version) or NAME-KEY, refusing any that a lab or a derived image uses; returns the folders removed.</summary>
    public async Task<IReadOnlyList<string>> RemoveImagesAsync(string name, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab image rm");
        var matches = Matching(await ImagesAsync(cancellationToken), name);
        if (matches.Where(i => i.UsedBy.Count > 0).ToList() is { Count: > 0 } used)
            throw new SpawnlabException(string.Join("; ", used.Select(i => $"image {i.Folder} is used by {string.Join(", ", i.UsedBy)}"))
                + ": bring those labs down (or remove those images) first", exitCode: 1);
        var pool = (await ExistingPoolAsync(cancellationToken))!;
        foreach (var image in matches)
        {
            progress.Report($"removing image {image.Folder}");
            await pool.DeleteAsync(image.Path, cancellationToken);
            File.Delete(ImageStore.LogOf(image.Path));
            File.Delete(ImageRecord.FileOf(image.Path));
        }
        return [.. matches.Select(i => i.Folder)];
    }

    /// <summary>Writes an image's root to a tarball (compressed as its name says) that bootstrap: tarball takes back.</summary>
    public async Task<PoolImage> ExportImageAsync(string name, string file, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab image export");
        if (!Labs.LabParser.TarballSuffixes.Any(s => file.EndsWith(s, StringComparison.Ordinal)))
            throw new SpawnlabException($"image export: '{file}' is not a tarball by its name; expected one of {string.Join(", ", Labs.LabParser.TarballSuffixes)}", exitCode: 2);
        var matches = Matching(await ImagesAsync(cancellationToken), name);
        if (matches.Count > 1)
            throw new SpawnlabException($"image {name} has {matches.Count} versions in the pool ({string.Join(", ", matches.Select(i => i.Folder))}); name one", exitCode: 2);
        var image = matches[0];
        var full = Path.GetFullPath(file);
        var temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.partial{Path.GetExtension(full)}");
        progress.Report($"exporting image {image.Folder} to {full}");
        try
        {
            // --auto-compress picks the compression from the name: the temporary name keeps the suffix.
            await host.Shell.RunAsync(HostCommand.Of("tar", "--create", "--auto-compress", "--file", temporary, "--directory", image.Path,
                "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "."), cancellationToken);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
        return image;
    }

    private static List<PoolImage> Matching(IReadOnlyList<PoolImage> images, string name)
    {
        var matches = images.Where(i => i.Name == name || i.Folder == name).ToList();
        return matches.Count > 0 ? matches : throw new SpawnlabException(
            $"no image {name} in the pool" + (images.Count > 0 ? $"; images: {string.Join(", ", images.Select(i => i.Folder))}" : " (it holds none)"), exitCode: 2);
    }

    private async Task<StoragePool?> ExistingPoolAsync(CancellationToken cancellationToken)
    {
        var opener = new PoolOpener(host, options.StateDirectory);
        if (opener.Existing() is null)
            return null;
        if (!await opener.IsReadableAsync(cancellationToken))
            host.RequireRoot("reading a loop-backed pool that is not mounted");
        return await opener.OpenAsync(DriverChoice.Auto, cancellationToken);
    }
}
