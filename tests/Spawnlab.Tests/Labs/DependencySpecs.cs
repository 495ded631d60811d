using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Tests.Labs;

public sealed class DependencySpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public void Dispose() => _files.Dispose();

    private const string Lab = """
        lab: deps
        images:
          base: {}
        machines:
          gw:
            image: base
            stages:
              - name: dns
                run: "true"
              - name: proxy
                after: [ web/site ]
                run: "true"
          web:
            image: base
            after: [ gw/dns ]
            stages:
              - name: site
                run: "true"
          client:
            image: base
            stages:
              - name: boot
                run: "true"
              - name: browse
                after: [ gw/proxy ]
                run: "true"
          other:
            image: base
            stages:
              - name: alone
                run: "true"
        """;

    [Fact]
    public void Dependencies_across_machines_are_read() =>
        Assert.Equal([new StageRef("gw", "dns")], _files.Parse(Lab).Machines["web"].After);

    [Fact]
    public void An_unknown_machine_in_after_is_rejected_with_its_position()
    {
        var error = Assert.Single(_files.Errors(Lab.Replace("after: [ gw/dns ]", "after: [ gateway/dns ]", StringComparison.Ordinal)));
        Assert.Contains("no machine named 'gateway'", error.Message, StringComparison.Ordinal);
        Assert.Equal(15, error.Line);
    }

    [Fact]
    public void An_unknown_stage_in_after_is_rejected_with_the_stages_there_are() =>
        Assert.Contains("machine 'gw' has no stage 'dhcp'; its stages: dns, proxy",
            Assert.Single(_files.Errors(Lab.Replace("after: [ gw/dns ]", "after: [ gw/dhcp ]", StringComparison.Ordinal))).Message, StringComparison.Ordinal);

    [Fact]
    public void A_malformed_reference_is_rejected() =>
        Assert.Contains("expected MACHINE/STAGE", Assert.Single(_files.Errors(Lab.Replace("after: [ gw/dns ]", "after: [ gw ]", StringComparison.Ordinal))).Message, StringComparison.Ordinal);

    [Fact]
    public void A_cycle_is_rejected_and_printed()
    {
        // gw/dns now waits for client/browse, which waits for gw/proxy, which comes after gw/dns.
        var lab = Lab.Replace("      - name: dns\n        run: \"true\"", "      - name: dns\n        after: [ client/browse ]\n        run: \"true\"", StringComparison.Ordinal);
        Assert.NotEqual(Lab, lab);
        var error = Assert.Single(_files.Errors(lab));
        Assert.StartsWith("dependency cycle: ", error.Message, StringComparison.Ordinal);
        foreach (var node in new[] { "gw/dns", "client/browse", "gw/proxy" })
            Assert.Contains(node, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_machine_waiting_for_its_own_stage_is_rejected() =>
        Assert.Contains("is a stage of the same machine",
            Assert.Single(_files.Errors(Lab.Replace("after: [ web/site ]", "after: [ gw/dns ]", StringComparison.Ordinal))).Message, StringComparison.Ordinal);

    [Fact]
    public void A_change_to_a_stage_changes_the_keys_of_the_stages_that_wait_for_it_and_nothing_else()
    {
        var lab = _files.Parse(Lab);
        var baseKeys = lab.Machines.Keys.ToDictionary(m => m, m => $"base-{m}");
        var before = StageKeys.ComputeLab(lab, baseKeys);
        var edited = _files.Parse(Lab.Replace("      - name: site\n        run: \"true\"", "      - name: site\n        run: \"false\"", StringComparison.Ordinal));

        var after = StageKeys.ComputeLab(edited, baseKeys);

        Assert.Equal(before["gw"][0], after["gw"][0]);
        Assert.NotEqual(before["gw"][1], after["gw"][1]);
        Assert.NotEqual(before["web"][0], after["web"][0]);
        Assert.Equal(before["client"][0], after["client"][0]);
        Assert.NotEqual(before["client"][1], after["client"][1]);
        Assert.Equal(before["other"], after["other"]);
    }

    [Fact]
    public void A_machine_s_after_enters_the_key_it_starts_from()
    {
        var lab = _files.Parse(Lab);
        var baseKeys = lab.Machines.Keys.ToDictionary(m => m, m => $"base-{m}");
        var keys = StageKeys.ComputeLab(lab, baseKeys);
        Assert.NotEqual("base-web", StageKeys.Start(lab, "web", "base-web", keys));
        Assert.Equal("base-other", StageKeys.Start(lab, "other", "base-other", keys));
    }

    [Fact]
    public void Rollback_takes_back_the_machines_whose_stages_depend_on_a_later_stage()
    {
        static MachineState Machine(string name, params (string Stage, string[] After)[] stages) => new()
        {
            Name = name,
            Image = "i",
            Config = "c",
            Root = "/r",
            Namespace = "n",
            LogFile = "l",
            Stages = [.. stages.Select(s => new StageRecord { Name = s.Stage, Key = $"{name}-{s.Stage}", After = [.. s.After] })],
        };
        var lab = new LabState { Lab = "deps", PoolPath = "/p", Driver = "btrfs" };
        lab.Machines["gw"] = Machine("gw", ("dns", []), ("proxy", ["web/site"]));
        lab.Machines["web"] = Machine("web", ("site", ["gw/dns"]));
        lab.Machines["client"] = Machine("client", ("boot", []), ("browse", ["gw/proxy"]), ("play", []));
        lab.Machines["other"] = Machine("other", ("alone", []));

        var toDns = LabController.RollbackTargets(lab, "gw", 0);

        Assert.Equal(new Dictionary<string, int> { ["gw"] = 0, ["client"] = 0 }, toDns);
        Assert.Equal(new Dictionary<string, int> { ["gw"] = -1, ["web"] = -1, ["client"] = 0 }, LabController.RollbackTargets(lab, "gw", -1));
    }
}
