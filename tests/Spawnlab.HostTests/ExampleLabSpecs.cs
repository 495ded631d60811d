using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class ExampleLabSpecs(HostFixture host)
{
    private static string Example(string name)
    {
        var directory = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(directory, "examples")))
            directory = Path.GetDirectoryName(directory) ?? throw new InvalidOperationException("examples/ not found above the test binaries");
        return Path.Combine(directory, "examples", name, "lab.yaml");
    }

    [HostFact]
    public async Task The_SADM_example_lab_comes_up_with_every_check_passing_reaches_a_simulated_upstream_through_NAT_and_down_leaves_nothing()
    {
        var lab = LabParser.ParseFile(Example("sadm"));
        var controller = host.Controller(DriverChoice.Btrfs);
        await using var upstream = await Upstream.CreateAsync();
        try
        {
            var result = await controller.UpAsync(lab, new UpOptions { Uplink = upstream.HostInterface }, CancellationToken.None);

            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.Equal(17, result.Checks.Count);
            Assert.All(result.Checks, c => Assert.True(c.Outcome == CheckOutcome.Passed, $"{c.Machine}/{c.Stage}: {c.Name}: {c.Message}"));

            // The contestant's packets go through gw, then the host, which masquerades them towards the upstream.
            await controller.InsideAsync(lab.Name, "pas-r11p11", "ping", "-c", "2", "-W", "2", Upstream.Target);
            var (masqueraded, other) = await upstream.SeenAsync();
            Assert.True(masqueraded >= 2, $"the upstream saw {masqueraded} requests from the host's upstream address");
            Assert.Equal(0, other);
        }
        finally
        {
            await controller.DownAsync(lab.Name, purgeImages: false, CancellationToken.None);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(lab.Name, lab.Networks.Keys, lab.Machines.Keys, Path.Combine(host.Options(DriverChoice.Btrfs).StateDirectory, "pool")));
    }
}
