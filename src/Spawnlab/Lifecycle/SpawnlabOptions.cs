using Spawnlab.Pool;

namespace Spawnlab.Lifecycle;

public sealed record SpawnlabOptions(string StateDirectory, DriverChoice Driver = DriverChoice.Auto)
{
    public const string DefaultStateDirectory = "/var/lib/spawnlab";

    public TimeSpan BootTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When another command holds the lab: wait for it (true) or fail at once (--no-wait).</summary>
    public bool WaitForLock { get; init; } = true;

    public static string StateDirectoryFromEnvironment() =>
        Environment.GetEnvironmentVariable("SPAWNLAB_STATE_DIR") is { Length: > 0 } dir ? dir : DefaultStateDirectory;
}
