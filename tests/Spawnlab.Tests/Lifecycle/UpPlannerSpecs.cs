using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.State;
using Spawnlab.Tests.Labs;

namespace Spawnlab.Tests.Lifecycle;

/// <summary>What up decides, from the lab file, the recorded state and what the pool holds, without a host.</summary>
public sealed class UpPlannerSpecs : IDisposable
{
    private const string Pool = "/pool";
    private readonly LabFiles _files = new();
    private readonly HashSet<string> _pool = new(StringComparer.Ordinal);

    public void Dispose() => _files.Dispose();

    private static string Lab(string firstRun = "echo 1") => $$"""
        lab: plan
        images:
          base: { packages: [curl] }
        networks:
          lan: { subnet: 10.0.0.0/24, host: 10.0.0.1 }
        machines:
          gw:
            image: base
            networks:
              lan: { address: 10.0.0.2/24 }
            stages:
              - { name: one, run: {{firstRun}} }
              - { name: two, run: echo 2 }
              - { name: three, run: echo 3 }
        """;

    private static string ImagePath(ImageDefinition image) => $"{Pool}/images/{image.Name}";

    private static string SnapshotPath(string machine, string key) => $"{Pool}/snapshots/{machine}/{key}";

    private UpPlan Plan(LabDefinition lab, LabState? state, UpOptions? options = null) =>
        UpPlanner.Plan(lab, state, options ?? new UpOptions(), ImagePath, _pool.Contains, SnapshotPath);

    /// <summary>The state and pool after an up that ran the first <paramref name="ran"/> stages of gw.</summary>
    private LabState After(LabDefinition lab, int ran)
    {
        var machine = lab.Machines["gw"];
        var image = ImagePath(lab.Images["base"]);
        var baseKey = UpPlanner.BaseKey(lab, machine, image);
        var keys = Spawnlab.Stages.StageKeys.ComputeLab(lab, new Dictionary<string, string> { ["gw"] = baseKey })["gw"];
        _pool.Add(image);
        _pool.Add($"{Pool}/roots/gw");
        foreach (var key in keys.Take(ran))
            _pool.Add(SnapshotPath("gw", key));
        var state = new LabState { Lab = lab.Name, PoolPath = Pool, Driver = "btrfs" };
        state.Networks["lan"] = new NetworkState { Name = "lan", Bridge = "slblan", Subnet = "10.0.0.0/24" };
        state.Machines["gw"] = new MachineState
        {
            Name = "gw",
            Image = image,
            Config = UpPlanner.ConfigHash(lab, machine, image),
            Root = $"{Pool}/roots/gw",
            Namespace = "ns",
            LogFile = "log",
            RootAt = ran == 0 ? baseKey : keys[ran - 1],
        };
        state.Objects.Add(new HostObject(HostObjectKind.Root, $"{Pool}/roots/gw"));
        return state;
    }

    [Fact]
    public void Up_from_nothing_bootstraps_makes_clones_and_runs_everything()
    {
        var plan = Plan(_files.Parse(Lab()), state: null);

        Assert.Equal(["base"], plan.ImagesToBootstrap);
        Assert.Equal(["lan"], plan.NetworksToCreate);
        var gw = Assert.Single(plan.Machines);
        Assert.Equal((RootAction.Clone, 0, 3), (gw.Root, gw.Cached.Count, gw.Run.Count));
    }

    [Fact]
    public void An_unchanged_lab_that_ran_everything_keeps_its_root_and_runs_nothing()
    {
        var lab = _files.Parse(Lab());

        var plan = Plan(lab, After(lab, ran: 3));

        Assert.Empty(plan.ImagesToBootstrap);
        Assert.Empty(plan.NetworksToCreate);
        Assert.Equal("Keep; cached: one,two,three; run: ; restored: -", Describe(plan.Machines.Single()));
    }

    [Fact]
    public void A_lab_interrupted_after_two_stages_keeps_its_root_and_runs_the_third()
    {
        var lab = _files.Parse(Lab());

        var gw = Plan(lab, After(lab, ran: 2)).Machines.Single();

        Assert.Equal("Keep; cached: one,two; run: three; restored: -", Describe(gw));
    }

    [Fact]
    public void Editing_the_first_stage_restores_the_fresh_root_and_reruns_everything()
    {
        var state = After(_files.Parse(Lab()), ran: 3);

        var gw = Plan(_files.Parse(Lab(firstRun: "echo edited")), state).Machines.Single();

        Assert.Equal("Restore; cached: ; run: one,two,three; restored: -", Describe(gw));
    }

    [Fact]
    public void From_a_stage_restores_the_stage_before_it_and_no_cache_starts_from_the_image()
    {
        var lab = _files.Parse(Lab());
        var state = After(lab, ran: 3);

        var from = Plan(lab, state, new UpOptions { From = new StageRef("gw", "three") }).Machines.Single();
        var none = Plan(lab, state, new UpOptions { NoCache = true }).Machines.Single();

        Assert.Equal("Restore; cached: one,two; run: three; restored: two", Describe(from));
        Assert.Equal("Restore; cached: ; run: one,two,three; restored: -", Describe(none));
    }

    [Fact]
    public void A_changed_definition_remakes_the_machine_and_what_the_lab_file_lost_is_removed()
    {
        var state = After(_files.Parse(Lab()), ran: 3);
        state.Machines["old"] = state.Machines["gw"];
        state.Networks["dmz"] = state.Networks["lan"];

        var plan = Plan(_files.Parse(Lab().Replace("10.0.0.2/24", "10.0.0.3/24", StringComparison.Ordinal)), state);

        Assert.Equal((RootAction.Recreate, 3), (plan.Machines.Single().Root, plan.Machines.Single().Run.Count));
        Assert.Equal(["old"], plan.MachinesToRemove);
        Assert.Equal(["dmz"], plan.NetworksToRemove);
    }

    private static string Describe(MachineUpPlan m) =>
        $"{m.Root}; cached: {string.Join(",", m.Cached)}; run: {string.Join(",", m.Run)}; restored: {m.RestoredStage ?? "-"}";
}
