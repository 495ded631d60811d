using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class MultiMachineSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>a and b are independent; c's stage waits for a/two; each stage records a random id inside its machine.</summary>
    private LabDefinition Dependent(string name, string bEdit = "") => _files.Write($$"""
        lab: {{name}}
        {{TestLab.Image}}
        machines:
          a:
            image: base
            stages:
              - name: one
                run: sleep 2; cat /proc/sys/kernel/random/uuid >> /ids
              - name: two
                run: sleep 1; cat /proc/sys/kernel/random/uuid >> /ids
          b:
            image: base
            stages:
              - name: one
                run: sleep 2; cat /proc/sys/kernel/random/uuid >> /ids{{bEdit}}
              - name: two
                run: cat /proc/sys/kernel/random/uuid >> /ids
          c:
            image: base
            stages:
              - name: first
                run: cat /proc/sys/kernel/random/uuid >> /ids
              - name: uses-a
                after: [ a/two ]
                run: cat /proc/sys/kernel/random/uuid >> /ids
          d:
            image: base
            after: [ b/one ]
            stages:
              - name: only
                run: cat /proc/sys/kernel/random/uuid >> /ids
        """);

    [HostFact]
    public async Task Independent_machines_run_their_stages_at_the_same_time_and_a_dependent_stage_starts_after_what_it_waits_for()
    {
        var name = TestLab.Name("par");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(Dependent(name));

            StageRecord Stage(string machine, string stage) => state.Machines[machine].Stages.Single(s => s.Name == stage);
            var (a, b) = (Stage("a", "one"), Stage("b", "one"));
            Assert.True(a.StartedAt < b.EndedAt && b.StartedAt < a.EndedAt,
                $"a/one ran {a.StartedAt:O}..{a.EndedAt:O}, b/one ran {b.StartedAt:O}..{b.EndedAt:O}: they did not overlap");
            Assert.True(Stage("c", "uses-a").StartedAt >= Stage("a", "two").EndedAt, "c/uses-a started before a/two ended");
            Assert.True(Stage("d", "only").StartedAt >= Stage("b", "one").EndedAt, "d started before b/one ended");
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task Changing_one_stage_reruns_it_its_later_stages_and_the_stages_of_other_machines_that_depend_on_it()
    {
        var name = TestLab.Name("dep");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            await controller.UpCleanlyAsync(Dependent(name));
            var before = await IdsAsync(controller, name);

            var state = await controller.UpCleanlyAsync(Dependent(name, bEdit: "; true"));

            var after = await IdsAsync(controller, name);
            Assert.Equal(before["a"], after["a"]);
            Assert.Equal(before["c"], after["c"]);
            Assert.NotEqual(before["b"][0], after["b"][0]);
            Assert.NotEqual(before["b"][1], after["b"][1]);
            Assert.NotEqual(before["d"][0], after["d"][0]);
            Assert.Equal([StageStatus.Ran, StageStatus.Ran], state.Machines["b"].Stages.Select(s => s.Status));
            Assert.Equal([StageStatus.Ran], state.Machines["d"].Stages.Select(s => s.Status));
            Assert.All(state.Machines["a"].Stages.Concat(state.Machines["c"].Stages), s => Assert.Equal(StageStatus.Cached, s.Status));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    private static async Task<Dictionary<string, string[]>> IdsAsync(LabController controller, string lab)
    {
        var ids = new Dictionary<string, string[]>();
        foreach (var machine in new[] { "a", "b", "c", "d" })
            ids[machine] = (await controller.InsideAsync(lab, machine, "cat", "/ids")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return ids;
    }

    [HostFact]
    public async Task A_failing_stage_stops_the_machines_that_depend_on_it_and_lets_independent_ones_finish()
    {
        var name = TestLab.Name("skp");
        var controller = host.Controller(DriverChoice.Btrfs);
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              broken:
                image: base
                stages:
                  - name: setup
                    run: exit 1
              waits:
                image: base
                after: [ broken/setup ]
                stages:
                  - name: x
                    run: "true"
                    checks:
                      - file: /etc/hostname
              free:
                image: base
                stages:
                  - name: y
                    run: touch /done
            """);
        try
        {
            var result = await controller.UpAsync(lab, new UpOptions(), CancellationToken.None);

            Assert.Contains(result.Failures, f => f.StartsWith("broken: machine broken, stage setup: run script (exit code 1) failed", StringComparison.Ordinal));
            Assert.Contains("waits: skipped because broken/setup did not complete (from stage x)", result.Skipped);
            Assert.Equal(Spawnlab.Checks.CheckOutcome.Skipped, Assert.Single(result.Checks, c => c.Machine == "waits").Outcome);
            Assert.Equal(StageStatus.Ran, result.State.Machines["free"].Stages.Single().Status);
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task A_machine_on_a_host_DHCP_network_gets_a_lease_in_the_subnet_and_resolves_other_machines_by_name()
    {
        var name = TestLab.Name("dhc");
        var controller = host.Controller(DriverChoice.Btrfs);
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            networks:
              lan:
                subnet: 10.233.0.0/24
                host: 10.233.0.1
                dhcp: true
            machines:
              dyn:
                image: base
                networks:
                  lan: { dhcp: true }
              fixed:
                image: base
                networks:
                  lan: { dhcp: true, address: 10.233.0.42 }
              static:
                image: base
                networks:
                  lan: { address: 10.233.0.5/24 }
            """);
        try
        {
            await controller.UpCleanlyAsync(lab);

            var dyn = await controller.InsideAsync(name, "dyn", "ip", "-4", "-o", "addr", "show", "dev", "lan");
            Assert.Matches(@"inet 10\.233\.0\.(1[2-9][0-9]|2[0-5][0-9])/24", dyn);
            Assert.Contains("inet 10.233.0.42/24", await controller.InsideAsync(name, "fixed", "ip", "-4", "-o", "addr", "show", "dev", "lan"), StringComparison.Ordinal);
            Assert.StartsWith("10.233.0.42 ", await controller.InsideAsync(name, "dyn", "getent", "ahostsv4", $"fixed.{name}"), StringComparison.Ordinal);
            Assert.StartsWith("10.233.0.5 ", await controller.InsideAsync(name, "dyn", "getent", "ahostsv4", "static"), StringComparison.Ordinal);
            var dynAddress = dyn.Split("inet ")[1].Split('/')[0];
            Assert.StartsWith(dynAddress + " ", await controller.InsideAsync(name, "static", "getent", "ahostsv4", $"dyn.{name}"), StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
        Assert.DoesNotContain(HostProbe.ProcessesNamed("dnsmasq"), p => p.CommandLine.Contains($"/labs/{name}/", StringComparison.Ordinal));
    }

    [HostFact]
    public async Task A_machine_with_two_networks_routes_between_them()
    {
        var name = TestLab.Name("rt");
        var controller = host.Controller(DriverChoice.Btrfs);
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            networks:
              left: { subnet: 10.234.1.0/24 }
              right: { subnet: 10.234.2.0/24 }
            machines:
              router:
                image: base
                forward: true
                networks:
                  left: { address: 10.234.1.1/24 }
                  right: { address: 10.234.2.1/24 }
              l:
                image: base
                networks:
                  left: { address: 10.234.1.10/24, gateway: 10.234.1.1 }
              r:
                image: base
                networks:
                  right: { address: 10.234.2.10/24, gateway: 10.234.2.1 }
            """);
        try
        {
            await controller.UpCleanlyAsync(lab);

            await controller.InsideAsync(name, "l", "ping", "-c", "1", "-W", "2", "10.234.2.10");
            var route = await controller.InsideAsync(name, "r", "ping", "-c", "1", "-W", "2", "-t", "64", "10.234.1.10");
            Assert.Contains("ttl=63", route, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }
}
