using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Pool;

namespace Spawnlab.Images;

/// <summary>
/// Images, stored read-only in the pool under a key derived from what they are made of (<see cref="ImageKeys"/>), so
/// that a second lab, or a second <c>up</c>, with the same definition reuses the image. Each is made under a temporary
/// name and only then put in place, with its log beside it (NAME-KEY.log).
/// </summary>
public sealed class ImageStore(IHostShell shell, StoragePool pool, IProgress<string> progress)
{
    private static readonly SemaphoreSlim MakeGate = new(1, 1);

    public string PathOf(ImageDefinition image, IReadOnlyDictionary<string, ImageDefinition> images) =>
        Path.Combine(pool.ImagesDirectory, ImageKeys.FolderName(image, images));

    /// <summary>The log of the making of the image at <paramref name="path"/>.</summary>
    public static string LogOf(string path) => path + ".log";

    /// <summary>The image's root, made first (and its parent's, for from:) when it is not in the pool.</summary>
    public async Task<string> EnsureAsync(ImageDefinition image, IReadOnlyDictionary<string, ImageDefinition> images, CancellationToken cancellationToken)
    {
        var path = PathOf(image, images);
        if (Directory.Exists(path))
            return path;
        var parent = image.From is { } from ? await EnsureAsync(images[from], images, cancellationToken) : null;
        // Two machines of one lab may share an image: make it once.
        await MakeGate.WaitAsync(cancellationToken);
        try
        {
            if (!Directory.Exists(path))
                await MakeAsync(image, path, parent, cancellationToken);
            return path;
        }
        finally
        {
            MakeGate.Release();
        }
    }

    private async Task MakeAsync(ImageDefinition image, string path, string? parent, CancellationToken cancellationToken)
    {
        // Made under a temporary name and only then put in place read-only: an interrupted making leaves nothing that
        // looks like a usable image (what an interrupted one left, under the pid of the process that was killed, goes).
        var temporary = Leftovers.Temporary(pool.ImagesDirectory, $"{Path.GetFileName(path)}-{Environment.ProcessId}");
        foreach (var leftover in Directory.EnumerateDirectories(pool.ImagesDirectory, $"{Leftovers.TemporaryPrefix}{Path.GetFileName(path)}-*").ToList())
            await pool.DeleteAsync(leftover, cancellationToken);
        var log = LogOf(path);
        File.WriteAllText(log, "");
        if (parent is null)
            await pool.Driver.CreateAsync(temporary, cancellationToken);
        else
            await pool.Driver.CloneAsync(parent, temporary, readOnly: false, cancellationToken);
        try
        {
            var methods = new ImageMethods(shell, image, temporary, log, progress);
            await (image.Bootstrap switch
            {
                ImageDefinition.TarballMethod => methods.UnpackAsync(cancellationToken),
                ImageDefinition.CommandMethod => methods.RunCommandAsync(cancellationToken),
                ImageDefinition.Derived => methods.InstallAsync(cancellationToken),
                _ => methods.DebootstrapAsync(cancellationToken),
            });
            await methods.PrepareAsync(cancellationToken);
            if (Unbootable(temporary) is { } missing)
                throw new SpawnlabException($"image {image.Name} cannot boot as a machine: {missing}");
            if (pool.Driver is BtrfsDriver)
            {
                await pool.Driver.CloneAsync(temporary, path, readOnly: true, cancellationToken);
                await pool.DeleteAsync(temporary, CancellationToken.None);
            }
            else
            {
                Directory.Move(temporary, path);
            }
            ImageRecord.Write(path, image, parent);
            progress.Report($"image {image.Name} ready");
        }
        catch
        {
            await pool.DeleteAsync(temporary, CancellationToken.None);
            throw;
        }
    }

    /// <summary>What a root lacks to boot as a machine (systemd as init, an os-release), or null.</summary>
    public static string? Unbootable(string root)
    {
        var missing = new List<string>();
        if (!new[] { "usr/lib/systemd/systemd", "lib/systemd/systemd" }.Any(p => File.Exists(Path.Combine(root, p))))
            missing.Add("no systemd (/usr/lib/systemd/systemd): machines boot with systemd as their init; install systemd in the root");
        if (!new[] { "etc/os-release", "usr/lib/os-release" }.Any(p => File.Exists(Path.Combine(root, p))))
            missing.Add("no /etc/os-release or /usr/lib/os-release: systemd needs one to boot");
        return missing.Count == 0 ? null : string.Join("; ", missing);
    }
}
