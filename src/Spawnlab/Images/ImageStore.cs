using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Pool;

namespace Spawnlab.Images;

/// <summary>
/// Bootstrapped base images, stored read-only in the pool under a key derived from their definition,
/// so that a second lab, or a second <c>up</c>, with the same definition reuses the image.
/// </summary>
public sealed class ImageStore(IHostShell shell, StoragePool pool, IProgress<string> progress)
{
    /// <summary>What every image needs to boot as a machine and be driven by Spawnlab.</summary>
    public static readonly IReadOnlyList<string> RequiredPackages = ["systemd", "systemd-sysv", "dbus", "iproute2", "systemd-resolved"];

    private static readonly SemaphoreSlim BootstrapGate = new(1, 1);

    public static string Key(ImageDefinition image)
    {
        var canonical = JsonSerializer.Serialize(new
        {
            image.Bootstrap,
            image.Suite,
            image.Mirror,
            Packages = image.Packages.Concat(RequiredPackages).Distinct().Order(StringComparer.Ordinal).ToArray(),
            image.Setup,
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..16];
    }

    public string PathOf(ImageDefinition image) => Path.Combine(pool.ImagesDirectory, $"{image.Name}-{Key(image)}");

    public bool Exists(ImageDefinition image) => Directory.Exists(PathOf(image));

    public async Task<string> EnsureAsync(ImageDefinition image, CancellationToken cancellationToken)
    {
        var path = PathOf(image);
        if (Directory.Exists(path))
            return path;
        // Two machines of one lab may share an image: bootstrap it once.
        await BootstrapGate.WaitAsync(cancellationToken);
        try
        {
            if (Directory.Exists(path))
                return path;
            await BootstrapAsync(image, path, cancellationToken);
            return path;
        }
        finally
        {
            BootstrapGate.Release();
        }
    }

    private async Task BootstrapAsync(ImageDefinition image, string path, CancellationToken cancellationToken)
    {
        // Built under a temporary name and only then put in place read-only: an interrupted bootstrap leaves
        // nothing that looks like a usable image.
        var temporary = Leftovers.Temporary(pool.ImagesDirectory, $"{Path.GetFileName(path)}-{Environment.ProcessId}");
        // What an interrupted bootstrap of the same image left (under the pid of the process that was killed).
        foreach (var leftover in Directory.EnumerateDirectories(pool.ImagesDirectory, $"{Leftovers.TemporaryPrefix}{Path.GetFileName(path)}-*").ToList())
            await pool.DeleteAsync(leftover, cancellationToken);
        await pool.Driver.CreateAsync(temporary, cancellationToken);
        try
        {
            var packages = image.Packages.Concat(RequiredPackages).Distinct().ToList();
            var mirror = image.Mirror ?? HostMirror.Find(image.Suite);
            progress.Report($"bootstrapping image {image.Name} ({image.Suite}, {packages.Count} packages) from {mirror}");
            await shell.RunAsync("debootstrap",
                ["--variant=minbase", $"--include={string.Join(',', packages)}", image.Suite, temporary, mirror],
                cancellationToken);
            await PrepareAsync(image, temporary, cancellationToken);
            if (pool.Driver is BtrfsDriver)
            {
                await pool.Driver.CloneAsync(temporary, path, readOnly: true, cancellationToken);
                await pool.DeleteAsync(temporary, CancellationToken.None);
            }
            else
            {
                Directory.Move(temporary, path);
            }
            progress.Report($"image {image.Name} ready");
        }
        catch
        {
            await pool.DeleteAsync(temporary, CancellationToken.None);
            throw;
        }
    }

    private async Task PrepareAsync(ImageDefinition image, string root, CancellationToken cancellationToken)
    {
        // Each machine gets its own machine-id and hostname when it is cloned; the image holds neither.
        File.WriteAllText(Path.Combine(root, "etc/machine-id"), "");
        File.Delete(Path.Combine(root, "etc/hostname"));
        // systemd-resolved is there for machines that take DHCP leases, which turn it on; the others keep a plain resolv.conf.
        await shell.RunAsync("sh", ["-c", "rm -f \"$1\"/etc/systemd/system/*/systemd-resolved.service \"$1\"/etc/systemd/system/dbus-org.freedesktop.resolve1.service && rm -f \"$1\"/etc/resolv.conf && : > \"$1\"/etc/resolv.conf", "sh", root], cancellationToken);
        // apt's cache is of no use in a machine that never reaches a mirror.
        await shell.RunAsync("sh", ["-c", "rm -rf \"$1\"/var/cache/apt/archives/*.deb \"$1\"/var/lib/apt/lists/*_Packages", "sh", root], cancellationToken);
        if (image.Setup is { } setup)
        {
            progress.Report($"running setup of image {image.Name}");
            await shell.RunAsync(
                HostCommand.Of("systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "--pipe", "-D", root, "/bin/sh", "-e")
                    .WithStandardInput(setup),
                cancellationToken);
            File.WriteAllText(Path.Combine(root, "etc/machine-id"), "");
        }
    }
}
