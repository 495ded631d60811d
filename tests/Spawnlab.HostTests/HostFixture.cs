using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>
/// One state directory per driver for the whole run, so that the base image is bootstrapped once per driver.
/// A loop-backed pool is unmounted at the end; its image file stays, so a later run on the same machine is quick.
/// </summary>
public sealed class HostFixture : IAsyncLifetime
{
    public static readonly string BtrfsStateDirectory = Environment.GetEnvironmentVariable("SPAWNLAB_TEST_STATE_DIR") ?? "/var/lib/spawnlab-tests";
    public static readonly string DirStateDirectory = BtrfsStateDirectory + "-dir";

    public IHostShell Shell => Real.Host.Shell;

    public SpawnlabOptions Options(DriverChoice driver) =>
        new(driver == DriverChoice.Dir ? DirStateDirectory : BtrfsStateDirectory, driver)
        {
            StopTimeout = TimeSpan.FromSeconds(10),
        };

    /// <summary>Where the pool of a driver's state directory is mounted.</summary>
    public string PoolRoot(DriverChoice driver = DriverChoice.Btrfs) => Path.Combine(Options(driver).StateDirectory, "pool");

    public LabController Controller(DriverChoice driver, IProgressSink? progress = null) =>
        new(Real.Host, Options(driver), progress ?? new TestProgress());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (!Real.Host.IsRoot)
            return;
        await new PoolOpener(Real.Host, BtrfsStateDirectory).DetachAsync(CancellationToken.None);
    }
}

[CollectionDefinition(Name)]
public sealed class HostCollection : ICollectionFixture<HostFixture>
{
    public const string Name = "host";
}

/// <summary>Progress written to the test output, so that a failing host test shows what happened.</summary>
public sealed class TestProgress : IProgressSink
{
    public List<string> Lines { get; } = [];

    public void Report(string value)
    {
        lock (Lines)
            Lines.Add(value);
        Console.Error.WriteLine(value);
    }

    public void Machine(string machine, Spawnlab.Machines.MachineStep step) => Report($"{machine}: {step}");
}
