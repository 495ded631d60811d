using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.State;
using Spawnlab.Tests.Fakes;

namespace Spawnlab.Tests.Lifecycle;

/// <summary>
/// Up, the stage cache, restore, rollback, down and clean, run by the real lifecycle against a fake host and fake
/// machines (<see cref="FakeLab"/>): what runs, in which order, what the roots hold and what is left on the host.
/// </summary>
public sealed class LifecycleSpecs : IDisposable
{
    private readonly FakeLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Up_from_nothing_bootstraps_the_image_makes_the_network_and_runs_every_stage_after_what_it_waits_for()
    {
        var result = await _lab.UpAsync(_lab.Lab());

        Assert.Empty(result.Failures);
        Assert.Single(_lab.Host.Shell.Commands, c => c.Arguments.Contains("debootstrap"));
        Assert.Contains(HostNamesOf("lan"), _lab.Host.Links.Keys);
        Assert.Contains(Spawnlab.Networks.HostNames.NftTable("unit"), FakeLabShell.Tables(_lab.Host));
        Assert.Equal(["install", "schema", "data"], _lab.Written("db"));
        Assert.Equal(["app", "site"], _lab.Written("web"));
        var ran = _lab.Ran();
        Assert.True(ran.IndexOf("db/schema") < ran.IndexOf("web/app"), string.Join(", ", ran));
        Assert.Equal(["db", "web"], _lab.Runtime.Boots.Order(StringComparer.Ordinal));
        Assert.All(result.State.Machines.Values, m => Assert.All(m.Stages, s => Assert.Equal(StageStatus.Ran, s.Status)));
        Assert.Equal(CheckOutcome.Passed, Assert.Single(result.Checks).Outcome);
        Assert.Equal("db", File.ReadAllText(Path.Combine(_lab.PoolFolder, "labs/unit/machines/db/etc/hostname")).Trim());
    }

    [Fact]
    public async Task Up_again_with_nothing_changed_runs_nothing_and_boots_nothing()
    {
        var lab = _lab.Lab();
        await _lab.UpAsync(lab);
        var ranBefore = _lab.Ran().Count;

        var result = await _lab.UpAsync(lab);

        Assert.Empty(result.Failures);
        Assert.Equal(ranBefore, _lab.Ran().Count);
        Assert.Equal(2, _lab.Runtime.Boots.Count);
        Assert.All(result.State.Machines.Values, m => Assert.All(m.Stages, s => Assert.Equal(StageStatus.Cached, s.Status)));
    }

    [Fact]
    public async Task Editing_the_last_stage_restores_the_cached_prefix_and_runs_only_that_stage()
    {
        await _lab.UpAsync(_lab.Lab());
        var ranBefore = _lab.Ran().Count;

        var result = await _lab.UpAsync(_lab.Lab(FakeLab.Text.Replace("echo data >> stages", "echo data2 >> stages", StringComparison.Ordinal)));

        Assert.Empty(result.Failures);
        Assert.Equal(["db/data2"], _lab.Ran().Skip(ranBefore));
        Assert.Equal(["install", "schema", "data2"], _lab.Written("db"));
        Assert.Equal(["Cached", "Cached", "Ran"], result.State.Machines["db"].Stages.Select(s => s.Status.ToString()));
        Assert.Equal(3, _lab.Runtime.Boots.Count);
    }

    [Fact]
    public async Task Editing_a_middle_stage_reruns_it_every_later_stage_and_the_stages_of_other_machines_that_wait_for_it()
    {
        await _lab.UpAsync(_lab.Lab());
        var ranBefore = _lab.Ran().Count;

        await _lab.UpAsync(_lab.Lab(FakeLab.Text.Replace("echo schema >> stages", "echo schema2 >> stages; echo schema >> stages", StringComparison.Ordinal)));

        Assert.Equal(["db/data", "db/schema2", "web/app", "web/site"], _lab.Ran().Skip(ranBefore).Order(StringComparer.Ordinal));
        Assert.Equal(["install", "schema2", "schema", "data"], _lab.Written("db"));
        Assert.Equal(["app", "site"], _lab.Written("web"));
    }

    [Fact]
    public async Task A_failed_stage_skips_the_later_stages_and_every_stage_that_waits_for_them()
    {
        var result = await _lab.UpAsync(_lab.Lab(FakeLab.Text.Replace("echo schema >> stages", "echo broken >> stages; exit 3", StringComparison.Ordinal)));

        var failure = Assert.Single(result.Failures);
        Assert.Contains("schema", failure, StringComparison.Ordinal);
        Assert.Contains("exit code 3", failure, StringComparison.Ordinal);
        Assert.Equal(["install", "broken"], _lab.Written("db"));
        Assert.Empty(_lab.Written("web"));
        Assert.Contains(result.Skipped, s => s.Contains("web", StringComparison.Ordinal) && s.Contains("db/schema", StringComparison.Ordinal));
        var db = result.State.Machines["db"].Stages;
        Assert.Equal([StageStatus.Ran, StageStatus.Failed, StageStatus.Pending], db.Select(s => s.Status));
        Assert.All(result.State.Machines["web"].Stages, s => Assert.Equal(StageStatus.Pending, s.Status));
        Assert.IsType<MachineStep.Failed>(_lab.Progress.Steps.Last(s => s.Machine == "db").Step);
        Assert.Equal(new MachineStep.Skipped("app", "db/schema"), _lab.Progress.Steps.Last(s => s.Machine == "web").Step);
        Assert.Equal(MachinePhase.Skipped, _lab.Progress.Steps.Last(s => s.Machine == "web").Step.Phase);
    }

    [Fact]
    public async Task Fixing_a_failed_stage_reruns_from_it_and_keeps_what_passed()
    {
        await _lab.UpAsync(_lab.Lab(FakeLab.Text.Replace("echo schema >> stages", "exit 3", StringComparison.Ordinal)));
        var ranBefore = _lab.Ran().Count;

        var result = await _lab.UpAsync(_lab.Lab());

        Assert.Empty(result.Failures);
        Assert.DoesNotContain("db/install", _lab.Ran().Skip(ranBefore));
        Assert.Equal(["install", "schema", "data"], _lab.Written("db"));
        Assert.Equal(["app", "site"], _lab.Written("web"));
    }

    [Fact]
    public async Task Restore_puts_the_root_back_to_just_after_a_stage_and_boots_the_machine_again()
    {
        await _lab.UpAsync(_lab.Lab());

        await _lab.Controller.RestoreAsync("db", "install", CancellationToken.None);

        Assert.Equal(["install"], _lab.Written("db"));
        var db = _lab.Controller.Store.Load("unit")!.Machines["db"];
        Assert.Equal([StageStatus.Ran, StageStatus.Pending, StageStatus.Pending], db.Stages.Select(s => s.Status));
        Assert.Equal(MachineRunState.Running, _lab.Runtime.RunState(db));
        Assert.Equal(3, _lab.Runtime.Boots.Count);
    }

    [Fact]
    public async Task Rollback_takes_back_the_machines_whose_stages_wait_for_what_is_undone()
    {
        await _lab.UpAsync(_lab.Lab());

        var moved = await _lab.Controller.RollbackAsync("db/install", CancellationToken.None);

        Assert.Equal(["db: back to just after stage install", "web: back to its fresh root"], moved.Order(StringComparer.Ordinal));
        Assert.Equal(["install"], _lab.Written("db"));
        Assert.Empty(_lab.Written("web"));
    }

    [Fact]
    public async Task Rollback_takes_a_stage_named_with_its_lab_and_refuses_a_reference_without_a_stage()
    {
        await _lab.UpAsync(_lab.Lab());

        var moved = await _lab.Controller.RollbackAsync("unit/db/schema", CancellationToken.None);
        var error = await Assert.ThrowsAsync<SpawnlabException>(() => _lab.Controller.RollbackAsync("db", CancellationToken.None));

        Assert.Equal(["db: back to just after stage schema"], moved);
        Assert.Equal(["install", "schema"], _lab.Written("db"));
        Assert.Equal(["app", "site"], _lab.Written("web"));
        Assert.Equal(2, error.ExitCode);
        Assert.Equal("'db': expected MACHINE/STAGE or LAB/MACHINE/STAGE", error.Message);
    }

    [Fact]
    public async Task Down_from_the_state_alone_leaves_nothing_on_the_host()
    {
        await _lab.UpAsync(_lab.Lab());
        File.Delete(Path.Combine(_lab.Folder, "lab.yaml"));

        await _lab.Controller.DownAsync("unit", purgeImages: true, CancellationToken.None);

        Assert.Empty(_lab.Host.Links);
        Assert.Empty(_lab.Host.Namespaces);
        Assert.Empty(FakeLabShell.Tables(_lab.Host));
        Assert.Empty(_lab.Host.Cgroups.Existing);
        Assert.Equal(0, _lab.Host.Processes.Count);
        Assert.Null(_lab.Controller.Store.Load("unit"));
        Assert.False(Directory.Exists(Path.Combine(_lab.PoolFolder, "labs", "unit")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_lab.PoolFolder, "images")));
    }

    [Fact]
    public async Task Clean_takes_down_a_lab_none_of_whose_machines_runs()
    {
        await _lab.UpAsync(_lab.Lab());
        foreach (var machine in _lab.Controller.Store.Load("unit")!.Machines.Values)
            _lab.Host.Processes.Signal(machine.Process!, 9);

        var removed = await _lab.Controller.CleanAsync(CancellationToken.None);

        Assert.Contains(removed, r => r.StartsWith("lab unit (nothing of it was running)", StringComparison.Ordinal));
        Assert.Null(_lab.Controller.Store.Load("unit"));
        Assert.Empty(_lab.Host.Links);
        Assert.Empty(_lab.Host.Namespaces);
    }

    [Fact]
    public async Task Clean_in_a_running_lab_removes_interrupted_work_dead_processes_and_stray_machines_only()
    {
        await _lab.UpAsync(_lab.Lab());
        var leftover = Path.Combine(_lab.PoolFolder, "labs", "unit", "machines", ".old-db-1");
        Directory.CreateDirectory(leftover);
        var journal = new StateJournal(_lab.Controller.Store, _lab.Controller.Store.Load("unit")!);
        journal.Record(new HostObject(HostObjectKind.Root, leftover));
        var deadDnsmasq = _lab.Host.Processes.Start("dnsmasq");
        _lab.Host.Processes.Signal(deadDnsmasq, 9);
        journal.Record(new HostObject(HostObjectKind.Process, deadDnsmasq.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) { StartTicks = deadDnsmasq.StartTicks });
        var stray = _lab.Host.Processes.Start(FakeRuntime.Program, "--machine=web.unit");
        var bootstrap = Path.Combine(_lab.PoolFolder, "images", ".tmp-base-1234");
        Directory.CreateDirectory(bootstrap);

        var removed = await _lab.Controller.CleanAsync(CancellationToken.None);

        Assert.Contains(removed, r => r.Contains(".old-db-1", StringComparison.Ordinal));
        Assert.Contains(removed, r => r.Contains($"stray systemd-nspawn pid {stray.Pid}", StringComparison.Ordinal));
        Assert.Contains(removed, r => r.Contains("interrupted bootstrap", StringComparison.Ordinal));
        Assert.Contains($"lab unit: process {deadDnsmasq.Pid}", removed);
        Assert.False(Directory.Exists(leftover));
        Assert.False(Directory.Exists(bootstrap));
        Assert.False(_lab.Host.Processes.IsAlive(stray));
        var state = _lab.Controller.Store.Load("unit")!;
        Assert.DoesNotContain(state.Objects, o => o.Kind == HostObjectKind.Process);
        Assert.All(state.Machines.Values, m => Assert.Equal(MachineRunState.Running, _lab.Runtime.RunState(m)));
        Assert.Equal(["install", "schema", "data"], _lab.Written("db"));
    }

    [Fact]
    public async Task A_dry_run_plans_what_up_would_do_and_changes_nothing()
    {
        await _lab.UpAsync(_lab.Lab());
        var commands = _lab.Host.Shell.Commands.Count;
        var edited = _lab.Lab(FakeLab.Text.Replace("echo site >> stages", "echo site2 >> stages", StringComparison.Ordinal));

        var (plan, caveat) = await _lab.Controller.PlanUpAsync(edited, new UpOptions(), CancellationToken.None);

        Assert.Null(caveat);
        Assert.Empty(plan.ImagesToBootstrap);
        var web = plan.Machines.Single(m => m.Machine == "web");
        Assert.Equal(["app"], web.Cached);
        Assert.Equal(["site"], web.Run);
        Assert.Empty(plan.Machines.Single(m => m.Machine == "db").Run);
        Assert.Equal(commands, _lab.Host.Shell.Commands.Count(c => c.Program != "findmnt"));
        Assert.Equal(["app", "site"], _lab.Written("web"));
    }

    [Fact]
    public async Task Without_root_up_down_and_clean_refuse_before_touching_anything()
    {
        _lab.Host.IsRoot = false;

        var error = await Assert.ThrowsAsync<SpawnlabException>(() => _lab.UpAsync(_lab.Lab()));

        Assert.Contains("needs root", error.Message, StringComparison.Ordinal);
        Assert.Empty(_lab.Host.Shell.Commands);
        await Assert.ThrowsAsync<SpawnlabException>(() => _lab.Controller.DownAsync("unit", purgeImages: false, CancellationToken.None));
        await Assert.ThrowsAsync<SpawnlabException>(() => _lab.Controller.CleanAsync(CancellationToken.None));
    }

    private static string HostNamesOf(string network) => Spawnlab.Networks.HostNames.Bridge("unit", network);
}
