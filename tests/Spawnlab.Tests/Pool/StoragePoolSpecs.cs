using Spawnlab.Pool;

namespace Spawnlab.Tests.Pool;

public sealed class StoragePoolSpecs
{
    private readonly StoragePool _pool = new("/var/lib/spawnlab/pool", new DirectoryDriver(new Fakes.FakeShell()), new Fakes.FakeHost());

    [Theory]
    [InlineData("/")]
    [InlineData("/var/lib/spawnlab/pool")]
    [InlineData("/var/lib/spawnlab")]
    [InlineData("/var/lib/spawnlab/pool/../state.json")]
    [InlineData("/var/lib/spawnlab/pool2/x")]
    [InlineData("relative/path")]
    [InlineData("/etc")]
    public void Deleting_a_path_outside_the_pool_is_refused(string path)
    {
        var error = Assert.Throws<SpawnlabException>(() => _pool.Inside(path));
        Assert.Contains("not inside the pool", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_path_inside_the_pool_is_accepted() =>
        Assert.Equal("/var/lib/spawnlab/pool/labs/x/machines/gw", _pool.Inside("/var/lib/spawnlab/pool/labs/x/machines/gw"));

    [Fact]
    public async Task The_driver_is_never_asked_to_delete_outside_the_pool()
    {
        var host = new Fakes.FakeHost();
        var shell = host.Shell;
        var pool = new StoragePool("/var/lib/spawnlab/pool", new DirectoryDriver(shell), host);

        await Assert.ThrowsAsync<SpawnlabException>(() => pool.DeleteAsync("/", CancellationToken.None));

        Assert.Empty(shell.Commands);
    }
}

public sealed class StoragePoolLinkSpecs : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spawnlab-pool-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_path_inside_the_pool_that_a_link_on_the_way_would_lead_out_of_it_is_refused()
    {
        var pool = new StoragePool(Path.Combine(_directory, "pool"), new DirectoryDriver(new Fakes.FakeShell()), new Fakes.FakeHost());
        Directory.CreateDirectory(Path.Combine(pool.Root, "labs", "x", "machines", "m"));
        Directory.CreateDirectory(Path.Combine(_directory, "outside", "victim"));
        File.CreateSymbolicLink(Path.Combine(pool.Root, "labs", "x", "machines", "m", "l"), Path.Combine(_directory, "outside"));

        var error = Assert.Throws<SpawnlabException>(() => pool.Inside(Path.Combine(pool.Root, "labs/x/machines/m/l/victim")));

        Assert.Contains($"{pool.Root}/labs/x/machines/m/l on the way is a symbolic link", error.Message, StringComparison.Ordinal);
        Assert.Null(pool.Refusal(Path.Combine(pool.Root, "labs/x/machines/m")));
    }
}

public sealed class PoolSpaceSpecs
{
    [Fact]
    public void A_full_pool_is_explained_with_the_wait_btrfs_needs_to_free_deleted_roots()
    {
        var message = PoolSpace.WithAdvice("`btrfs subvolume snapshot a b` failed with exit code 1: ERROR: cannot snapshot: No space left on device");

        Assert.EndsWith(PoolSpace.Advice, message, StringComparison.Ordinal);
        Assert.Contains("btrfs subvolume sync", PoolSpace.Advice, StringComparison.Ordinal);
        Assert.Equal("another failure", PoolSpace.WithAdvice("another failure"));
    }
}

public sealed class PoolRecordSpecs : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spawnlab-poolrecord-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("btrfs", "btrfs")]
    [InlineData("btrfs-loop", "btrfs")]
    [InlineData("dir", "dir")]
    public void A_pool_recorded_by_an_earlier_version_opens_with_its_driver(string kind, string driver)
    {
        File.WriteAllText(Path.Combine(_directory, "pool.json"), $$"""{"Kind":"{{kind}}"}""");

        Assert.Equal(driver, new PoolOpener(new Fakes.FakeHost(), _directory).Existing()!.Driver.Name);
    }

    [Theory]
    [InlineData(false, "btrfs")]
    [InlineData(true, "dir")]
    public async Task Auto_on_a_host_s_btrfs_takes_it_only_with_btrfs_progs_installed(bool btrfsProgsMissing, string driver)
    {
        var shell = new Fakes.FakeShell().Answer("findmnt -n -o FSTYPE", "btrfs").Answer("sh -c 'command -v mkfs.btrfs", "", exitCode: 1);
        var host = new Fakes.FakeHost(shell);
        if (btrfsProgsMissing)
            host.MissingPrograms.UnionWith(["btrfs", "mkfs.btrfs"]);

        var pool = await new PoolOpener(host, _directory).OpenAsync(DriverChoice.Auto, CancellationToken.None);

        Assert.Equal(driver, pool.Driver.Name);
    }
}
