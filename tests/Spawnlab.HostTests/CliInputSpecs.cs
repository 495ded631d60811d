using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>Invalid input to the CLI exits 2 with a line that says what is wrong, before anything is touched.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class CliInputSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("spawnlab: unknown option '--bogus'", "ls", "--bogus")]
    [InlineData("spawnlab: unknown option '--bogus'", "down", "--bogus")]
    [InlineData("spawnlab: Argument 'nope' not recognized", "graph", "--format", "nope")]
    [InlineData("spawnlab: Argument 'yaml' not recognized", "inventory", "--format", "yaml")]
    [InlineData("spawnlab: --jobs: expected a number of machines, 1 or more", "up", "--jobs", "0", "x.yaml")]
    [InlineData("spawnlab: --jobs: expected a number of machines, 1 or more", "up", "-j", "-3", "x.yaml")]
    [InlineData("spawnlab: Unrecognized command or argument 'nosuch'", "nosuch")]
    public async Task A_wrong_invocation_exits_2_naming_what_is_wrong(string message, params string[] arguments)
    {
        var result = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, arguments);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
        Assert.Equal("", result.Stdout);
    }

    [HostFact]
    public async Task Labs_whose_machines_would_share_host_names_are_refused_before_the_second_makes_anything()
    {
        var stem = TestLab.Name("clsh");
        var first = _files.Write($"lab: {stem}-x\n{TestLab.Image}\nmachines:\n  m1:\n    image: base\n", "first.yaml");
        var second = _files.Write($"lab: {stem}\n{TestLab.Image}\nmachines:\n  x-m1:\n    image: base\n", "second.yaml");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            await controller.UpCleanlyAsync(first);

            var error = await Assert.ThrowsAsync<SpawnlabException>(() => controller.UpAsync(second, CancellationToken.None));

            Assert.Equal(2, error.ExitCode);
            Assert.Equal($"machine x-m1 of lab {stem} would be named spawnlab-{stem}-x-m1 on the host, as machine m1 of lab {stem}-x is; rename one of them", error.Message);
            Assert.Null(controller.Store.Load(stem));
        }
        finally
        {
            await controller.ForceCleanAsync($"{stem}-x", CancellationToken.None);
            await controller.ForceCleanAsync(stem, CancellationToken.None);
        }
    }
}
