using System.Globalization;

namespace Spawnlab.Host;

/// <summary>The kernel's settings under /proc/sys.</summary>
public sealed class ProcSysctls : ISysctls
{
    private static string PathOf(string key) => Path.Combine("/proc/sys", key.Replace('.', '/'));

    public bool Exists(string key) => File.Exists(PathOf(key));

    public int? ReadInt(string key)
    {
        try
        {
            return int.Parse(File.ReadAllText(PathOf(key)).Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public Task WriteAsync(string key, string value, CancellationToken cancellationToken) =>
        File.WriteAllTextAsync(PathOf(key), value, cancellationToken);
}
