using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Spawnlab.Labs;

namespace Spawnlab.Images;

/// <summary>
/// An image's key: what it is made of, so that an image is made again exactly when what it is made of changed, and
/// two labs with the same definition share one. debootstrap: suite, mirror, packages and setup; tarball: the
/// tarball's content; command: the command and the content of its inputs; from: the parent's key, packages and setup.
/// </summary>
public static class ImageKeys
{
    /// <summary>What every image needs to boot as a machine and be driven by Spawnlab.</summary>
    public static readonly IReadOnlyList<string> RequiredPackages = ["systemd", "systemd-sysv", "dbus", "iproute2", "systemd-resolved"];

    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Written), string> FileHashes = new();

    /// <param name="images">The lab's images, where a from: is looked up.</param>
    public static string Of(ImageDefinition image, IReadOnlyDictionary<string, ImageDefinition> images)
    {
        JsonObject canonical = image.Bootstrap switch
        {
            ImageDefinition.TarballMethod => new() { ["Bootstrap"] = image.Bootstrap, ["Tarball"] = HashOfFile(image.Tarball!), ["Setup"] = image.Setup },
            ImageDefinition.CommandMethod => new()
            {
                ["Bootstrap"] = image.Bootstrap,
                ["Command"] = image.Command,
                ["Inputs"] = HashOfInputs(image.Inputs, image.Directory),
                ["Setup"] = image.Setup,
            },
            ImageDefinition.Derived => new()
            {
                ["Bootstrap"] = image.Bootstrap,
                ["From"] = Of(images[image.From!], images),
                ["Packages"] = JsonNodes.Array(image.Packages.Distinct().Order(StringComparer.Ordinal)),
                ["Setup"] = image.Setup,
            },
            // As it always was, so that images made before the other methods existed keep their keys.
            _ => new()
            {
                ["Bootstrap"] = image.Bootstrap,
                ["Suite"] = image.Suite,
                ["Mirror"] = image.Mirror,
                ["Packages"] = JsonNodes.Array(image.Packages.Concat(RequiredPackages).Distinct().Order(StringComparer.Ordinal)),
                ["Setup"] = image.Setup,
            },
        };
        return Hash(JsonNodes.Compact(canonical));
    }

    /// <summary>The folder name of an image in the pool: its name and key.</summary>
    public static string FolderName(ImageDefinition image, IReadOnlyDictionary<string, ImageDefinition> images) => $"{image.Name}-{Of(image, images)}";

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    /// <summary>A file's SHA-256, read once per process for a given length and time of writing.</summary>
    private static string HashOfFile(string path)
    {
        var info = new FileInfo(path);
        return FileHashes.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), _ =>
        {
            using var stream = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        });
    }

    /// <summary>Every input's files and folders: their names (relative to the lab's folder), types, modes, contents and link targets.</summary>
    private static string HashOfInputs(IReadOnlyList<string> inputs, string? directory)
    {
        var text = new StringBuilder();
        foreach (var input in inputs)
        {
            text.Append("input ").Append(directory is null ? input : Path.GetRelativePath(directory, input)).Append('\n');
            Describe(input, ".", text);
        }
        return Hash(text.ToString());
    }

    private static void Describe(string path, string name, StringBuilder text)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is { } target)
        {
            text.Append($"link {name} {target}\n");
            return;
        }
        if (Directory.Exists(path))
        {
            text.Append($"dir {name} {(int)File.GetUnixFileMode(path)}\n");
            foreach (var entry in Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal))
                Describe(entry, $"{name}/{Path.GetFileName(entry)}", text);
            return;
        }
        // A FIFO or a device has no length: it is not opened (a FIFO would block).
        text.Append($"file {name} {(int)File.GetUnixFileMode(path)} {(info.Length == 0 ? "empty" : HashOfFile(path))}\n");
    }
}
