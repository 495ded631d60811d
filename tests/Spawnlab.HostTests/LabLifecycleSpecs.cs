using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class LabLifecycleSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>A lab of one machine without network or stages.</summary>
    private LabDefinition Solo(string stem) => _files.Write($$"""
        lab: {{TestLab.Name(stem)}}
        {{TestLab.Image}}
        machines:
          solo:
            image: base
        """);

    private LabDefinition TwoMachines(string lab, string uplink) => _files.Write($$"""
        lab: {{lab}}
        {{TestLab.Image}}
        networks:
          lan:
            subnet: 10.231.{{lab.Length}}.0/24
            host: 10.231.{{lab.Length}}.1
            nat: true
            uplink: {{uplink}}
        machines:
          alpha:
            image: base
            networks:
              lan: { address: 10.231.{{lab.Length}}.10/24, gateway: 10.231.{{lab.Length}}.1 }
            tmpfs: [ /var/tmp ]
          beta:
            image: base
            networks:
              lan: { address: 10.231.{{lab.Length}}.11/24, gateway: 10.231.{{lab.Length}}.1 }
        """);

    [HostFact]
    public Task Two_machines_on_btrfs_reach_each_other_the_host_and_the_upstream_through_NAT_and_down_leaves_nothing() =>
        TwoMachineLab(DriverChoice.Btrfs, "btr");

    [HostFact]
    public Task Two_machines_on_the_dir_driver_reach_each_other_the_host_and_the_upstream_through_NAT_and_down_leaves_nothing() =>
        TwoMachineLab(DriverChoice.Dir, "dir");

    private async Task TwoMachineLab(DriverChoice driver, string stem)
    {
        await using var upstream = await Upstream.CreateAsync();
        var lab = TwoMachines(TestLab.Name(stem), upstream.HostInterface);
        var controller = host.Controller(driver);
        var options = host.Options(driver);
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var prefix = $"10.231.{lab.Name.Length}";

            Assert.Equal(driver == DriverChoice.Dir ? "dir" : "btrfs", state.Driver);
            Assert.All(controller.Statuses([state]), m => Assert.Equal(MachineRunState.Running, m.State));
            await controller.InsideAsync(lab.Name, "alpha", "ping", "-c", "1", "-W", "2", $"{prefix}.11");
            await controller.InsideAsync(lab.Name, "beta", "ping", "-c", "1", "-W", "2", $"{prefix}.10");
            await controller.InsideAsync(lab.Name, "alpha", "ping", "-c", "1", "-W", "2", $"{prefix}.1");
            await controller.InsideAsync(lab.Name, "beta", "ping", "-c", "1", "-W", "2", "alpha");

            await controller.InsideAsync(lab.Name, "alpha", "ping", "-c", "2", "-W", "2", Upstream.Target);
            var (masqueraded, other) = await upstream.SeenAsync();
            Assert.True(masqueraded >= 2, $"the upstream saw {masqueraded} requests from the host's upstream address");
            Assert.Equal(0, other);

            var hostname = await HostProbe.CliAsync(options.StateDirectory, null, "exec", $"{lab.Name}/beta", "--", "hostname");
            Assert.Equal((0, "beta\n"), (hostname.ExitCode, hostname.Stdout));
            var machineIds = await Task.WhenAll(new[] { "alpha", "beta" }.Select(m => HostProbe.CliAsync(options.StateDirectory, null, "exec", $"{lab.Name}/{m}", "--", "cat", "/etc/machine-id")));
            Assert.NotEqual(machineIds[0].Stdout, machineIds[1].Stdout);
            Assert.Matches("^[0-9a-f]{32}\n$", machineIds[0].Stdout);
        }
        finally
        {
            await controller.DownAsync(lab.Name, purgeImages: false, CancellationToken.None);
        }

        var poolRoot = Path.Combine(options.StateDirectory, "pool");
        Assert.Empty(await HostProbe.LeftoversAsync(lab.Name, lab.Networks.Keys, lab.Machines.Keys, poolRoot));
        Assert.Null(controller.Store.Load(lab.Name));
        Assert.DoesNotContain(HostProbe.MountsUnder(poolRoot), m => m != poolRoot);
    }

    [HostFact]
    public async Task Exec_passes_output_input_and_the_exit_code_through()
    {
        var lab = Solo("exe");
        var controller = host.Controller(DriverChoice.Btrfs);
        var stateDirectory = host.Options(DriverChoice.Btrfs).StateDirectory;
        try
        {
            await controller.UpCleanlyAsync(lab);

            var failing = await HostProbe.CliAsync(stateDirectory, null, "exec", $"{lab.Name}/solo", "--", "sh", "-c", "echo out; echo err >&2; exit 7");
            Assert.Equal((7, "out\n", "err\n"), failing);
            var echoed = await HostProbe.CliAsync(stateDirectory, "from stdin\n", "exec", $"{lab.Name}/solo", "--", "cat");
            Assert.Equal((0, "from stdin\n"), (echoed.ExitCode, echoed.Stdout));
            var missing = await HostProbe.CliAsync(stateDirectory, null, "exec", $"{lab.Name}/nobody", "--", "true");
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("no machine named", missing.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownAsync(lab.Name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task A_second_up_reuses_the_image_and_the_running_machines()
    {
        var lab = Solo("re");
        var progress = new TestProgress();
        var controller = host.Controller(DriverChoice.Btrfs, progress);
        try
        {
            var first = await controller.UpCleanlyAsync(lab);
            var pid = first.Machines["solo"].Pid;
            progress.Lines.Clear();

            var second = await controller.UpCleanlyAsync(lab);

            Assert.DoesNotContain(progress.Lines, l => l.Contains("bootstrapping", StringComparison.Ordinal));
            Assert.Equal(pid, second.Machines["solo"].Pid);
        }
        finally
        {
            await controller.DownAsync(lab.Name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task An_invalid_lab_file_creates_nothing()
    {
        var path = Path.Combine(_files.Directory, "bad.yaml");
        var name = TestLab.Name("bad");
        await File.WriteAllTextAsync(path, $"lab: {name}\n{TestLab.Image}\nmachines:\n  m:\n    image: nope\n");
        var stateDirectory = Path.Combine(_files.Directory, "state");

        var result = await HostProbe.CliAsync(stateDirectory, null, "up", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bad.yaml:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("no image named 'nope'", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(stateDirectory));
    }
}
