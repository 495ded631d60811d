using Spawnlab.Host;

namespace Spawnlab.Tests.Host;

public sealed class PollSpecs
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(5);

    [Fact]
    public async Task A_condition_that_comes_to_hold_ends_the_wait_with_true()
    {
        var asked = 0;

        Assert.True(await Poll.UntilAsync(() => ++asked == 3, TimeSpan.FromSeconds(10), Tick, CancellationToken.None));
        Assert.Equal(3, asked);
    }

    [Fact]
    public async Task A_condition_that_never_holds_ends_the_wait_with_false_at_the_deadline_even_in_the_middle_of_a_slow_probe()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var held = await Poll.UntilAsync(async token =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), token);
            return true;
        }, TimeSpan.FromMilliseconds(100), Tick, CancellationToken.None);

        Assert.False(held);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the wait took {clock.Elapsed}");
    }

    [Fact]
    public async Task What_the_condition_throws_ends_the_wait_with_its_own_message() =>
        Assert.Equal("machine m stopped", (await Assert.ThrowsAsync<SpawnlabException>(() =>
            Poll.UntilAsync(() => throw new SpawnlabException("machine m stopped"), TimeSpan.FromSeconds(10), Tick, CancellationToken.None))).Message);

    [Fact]
    public async Task Cancelling_the_caller_s_token_throws_instead_of_reporting_a_timeout()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Poll.UntilAsync(() => false, TimeSpan.FromSeconds(10), Tick, cancel.Token));
    }
}

public sealed class MountTableSpecs
{
    [Fact]
    public void Mount_points_are_unescaped_and_types_and_super_options_read()
    {
        var mounts = MountTable.Parse(
        [
            "36 35 98:0 /mnt1 /mnt\\040with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
            "29 23 0:26 / /sys/fs/cgroup/systemd rw,nosuid shared:9 - cgroup cgroup rw,xattr,name=systemd",
            "30 23 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate",
            "not a mountinfo line",
        ]);

        Assert.Equal(["/mnt with space", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"], mounts.Select(m => m.MountPoint));
        Assert.Equal(["ext3", "cgroup", "cgroup2"], mounts.Select(m => m.Type));
        Assert.Contains("name=systemd", mounts[1].SuperOptions);
    }
}
