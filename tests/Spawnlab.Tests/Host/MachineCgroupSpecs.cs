using Spawnlab.Host;
using Spawnlab.Tests.Fakes;

namespace Spawnlab.Tests.Host;

/// <summary>Where a machine's cgroups are, with and without systemd as PID 1, and which ones Spawnlab may remove.</summary>
public sealed class MachineCgroupSpecs
{
    private static readonly MountTable.Mount Unified = new("/sys/fs/cgroup", "cgroup2", ["rw"]);

    private static MachineCgroup Cgroups(bool systemd, FakeShell? shell = null) => new(() => [Unified], () => systemd, shell ?? new FakeShell());

    [Fact]
    public void Without_systemd_a_machine_has_a_cgroup_of_its_own_at_the_top_of_the_hierarchy()
    {
        Assert.Equal(["/sys/fs/cgroup/spawnlab-lab-web"], Cgroups(systemd: false).For("lab", "web"));
        Assert.Null(MachineCgroup.ScopeOf("/sys/fs/cgroup/spawnlab-lab-web"));
    }

    [Fact]
    public void With_systemd_a_machine_has_a_scope_unit_of_its_own_in_machine_slice()
    {
        var cgroup = Assert.Single(Cgroups(systemd: true).For("lab", "web"));
        Assert.Equal("/sys/fs/cgroup/machine.slice/spawnlab-lab-web.scope", cgroup);
        Assert.Equal("spawnlab-lab-web.scope", MachineCgroup.ScopeOf(cgroup));
    }

    [Fact]
    public async Task Removing_a_scope_stops_and_forgets_its_unit()
    {
        var shell = new FakeShell();
        await Cgroups(systemd: true, shell).RemoveAsync("/sys/fs/cgroup/machine.slice/spawnlab-nolab-gone.scope", CancellationToken.None);
        Assert.Equal(["systemctl stop spawnlab-nolab-gone.scope", "systemctl reset-failed spawnlab-nolab-gone.scope"], shell.Commands.Select(c => c.ToString()));
    }

    [Theory]
    [InlineData("/sys/fs/cgroup/machine.slice/machine-other.scope")]
    [InlineData("/sys/fs/cgroup/system.slice/spawnlab-lab-web.scope")]
    [InlineData("/sys/fs/cgroup/machine.slice")]
    [InlineData("/sys/fs/cgroup/user.slice/spawnlab-lab-web")]
    [InlineData("/tmp/spawnlab-lab-web")]
    public async Task A_cgroup_or_unit_that_is_not_spawnlab_s_is_never_touched(string cgroup)
    {
        var shell = new FakeShell();
        var error = await Assert.ThrowsAsync<SpawnlabException>(() => Cgroups(systemd: true, shell).RemoveAsync(cgroup, CancellationToken.None));
        Assert.Contains("refusing to touch cgroup", error.Message, StringComparison.Ordinal);
        Assert.Empty(shell.Commands);
    }

    [Fact]
    public void The_cgroups_of_a_scope_are_made_by_systemd_not_by_spawnlab() =>
        Assert.Throws<InvalidOperationException>(() => Cgroups(systemd: true).Create(["/sys/fs/cgroup/machine.slice/spawnlab-lab-web.scope"], frozen: true));
}
