using System.Globalization;

namespace Spawnlab.Host;

/// <summary>The kernel's settings under /proc/sys, named as sysctl names them (net.ipv4.ip_forward).</summary>
public static class Sysctl
{
    private static string PathOf(string key) => Path.Combine("/proc/sys", key.Replace('.', '/'));

    public static bool Exists(string key) => File.Exists(PathOf(key));

    /// <summary>The setting as a number; null where it does not exist or does not read as one.</summary>
    public static int? ReadInt(string key)
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

    public static Task WriteAsync(string key, string value, CancellationToken cancellationToken) =>
        File.WriteAllTextAsync(PathOf(key), value, cancellationToken);
}
