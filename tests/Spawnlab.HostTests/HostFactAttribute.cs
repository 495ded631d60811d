using Spawnlab.Host;

namespace Spawnlab.HostTests;

/// <summary>A test that drives the real host: it needs root and the tools Spawnlab shells out to.</summary>
public sealed class HostFactAttribute : FactAttribute
{
    private static readonly string[] Tools = ["systemd-nspawn", "debootstrap", "btrfs", "nft", "ip", "nsenter"];

    public HostFactAttribute()
    {
        if (!Real.Host.IsRoot)
            Skip = "needs root";
        else if (Tools.FirstOrDefault(t => !OnPath(t)) is { } missing)
            Skip = $"needs {missing} (run .ci/run or scripts/install-deps)";
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin").Split(':')
            .Append("/usr/sbin").Append("/sbin")
            .Any(dir => File.Exists(Path.Combine(dir, tool)));
}
