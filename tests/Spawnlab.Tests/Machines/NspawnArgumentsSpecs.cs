using Spawnlab.Labs;
using Spawnlab.Machines;

namespace Spawnlab.Tests.Machines;

public sealed class NspawnArgumentsSpecs
{
    private static readonly MachineDefinition Machine = new(
        "pas-r11p11", "base", [],
        [new BindMount("/srv/a:b", "/root/sadm", ReadOnly: true), new BindMount("/srv/rw", "/srv", ReadOnly: false)],
        ["/home", "/var/log"], ReadOnlyRoot: true);

    [Fact]
    public void Without_systemd_on_the_host_machines_are_not_registered()
    {
        var arguments = NspawnArguments.For(Machine, "pas-r11p11.prolo", "/pool/root", "spawnlab-prolo-pas-r11p11", hostHasSystemd: false, privateUsers: false);
        Assert.Contains("--register=no", arguments);
        Assert.Contains("--keep-unit", arguments);
        Assert.Contains("--boot", arguments);
        Assert.Contains("--network-namespace-path=/run/netns/spawnlab-prolo-pas-r11p11", arguments);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void With_systemd_on_the_host_machines_register_with_machined_from_their_own_scope(bool privateUsers)
    {
        var arguments = NspawnArguments.For(Machine, "x.y", "/r", "ns", hostHasSystemd: true, privateUsers);
        Assert.Contains("--register=yes", arguments);
        Assert.Contains("--keep-unit", arguments);
    }

    [Fact]
    public void Binds_tmpfs_and_a_read_only_root_are_passed_on()
    {
        var arguments = NspawnArguments.For(Machine, "x.y", "/r", "ns", hostHasSystemd: false, privateUsers: false);
        Assert.Contains(@"--bind-ro=/srv/a\:b:/root/sadm", arguments);
        Assert.Contains("--bind=/srv/rw:/srv", arguments);
        Assert.Contains("--tmpfs=/home", arguments);
        Assert.Contains("--tmpfs=/var/log", arguments);
        Assert.Contains("--read-only", arguments);
    }

    [Fact]
    public void A_machine_with_a_user_namespace_gets_its_own_network_namespace_from_nspawn_and_id_mapped_binds()
    {
        var arguments = NspawnArguments.For(Machine, "x.y", "/r", "ns", hostHasSystemd: true, privateUsers: true);
        Assert.Contains("--private-users=pick", arguments);
        Assert.Contains("--private-users-ownership=map", arguments);
        Assert.Contains("--private-network", arguments);
        Assert.DoesNotContain(arguments, a => a.StartsWith("--network-namespace-path", StringComparison.Ordinal));
        Assert.DoesNotContain("--capability=CAP_NET_ADMIN", arguments);
        // It runs in the cgroup it is started in, on any host.
        Assert.Contains("--keep-unit", arguments);
        Assert.Contains(@"--bind-ro=/srv/a\:b:/root/sadm:idmap", arguments);
        Assert.Contains("--bind=/srv/rw:/srv:idmap", arguments);
    }

    [Fact]
    public void A_machine_without_a_user_namespace_joins_the_namespace_spawnlab_made()
    {
        var arguments = NspawnArguments.For(Machine, "x.y", "/r", "ns", hostHasSystemd: false, privateUsers: false);
        Assert.DoesNotContain(arguments, a => a.StartsWith("--private-users", StringComparison.Ordinal));
        Assert.Contains("--network-namespace-path=/run/netns/ns", arguments);
        Assert.Contains("--capability=CAP_NET_ADMIN", arguments);
    }
}
