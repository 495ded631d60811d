using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spawnlab.Networks;
using Spawnlab.State;

namespace Spawnlab.Tests.Lifecycle;

public sealed class OwnershipSpecs
{
    private static readonly Fakes.FakeHost Host = new();

    private static readonly Ownership Owner = new(Host, new Spawnlab.Machines.NspawnRuntime(Host));

    private static LabState Lab(string name, params string[] machines)
    {
        var state = new LabState { Lab = name, PoolPath = "/var/lib/spawnlab/pool", Driver = "btrfs" };
        foreach (var machine in machines)
        {
            state.Machines[machine] = new MachineState
            {
                Name = machine,
                Image = "i",
                Config = "c",
                Root = $"/var/lib/spawnlab/pool/labs/{name}/machines/{machine}",
                Namespace = HostNames.Namespace(name, machine),
                LogFile = "l",
            };
        }
        return state;
    }

    private static string? Refusal(LabState state, HostObjectKind kind, string name, params LabState[] others) =>
        Owner.Refusal(state, new HostObject(kind, name), $"/var/lib/spawnlab/labs/{state.Lab}", others);

    [Fact]
    public void The_lab_s_own_namespaces_and_table_are_its_to_remove()
    {
        var lab = Lab("prolo", "gw");

        Assert.Null(Refusal(lab, HostObjectKind.NetworkNamespace, "spawnlab-prolo-gw"));
        Assert.Null(Refusal(lab, HostObjectKind.NftTable, "spawnlab_prolo"));
    }

    [Theory]
    [InlineData(HostObjectKind.NetworkNamespace, "spawnlab-prolo-web", "it is not the network namespace of a machine of lab prolo")]
    [InlineData(HostObjectKind.NetworkNamespace, "docker-ns", "it is not the network namespace of a machine of lab prolo")]
    [InlineData(HostObjectKind.NftTable, "spawnlab_other", "lab prolo's table is spawnlab_prolo")]
    [InlineData(HostObjectKind.NftTable, "filter", "lab prolo's table is spawnlab_prolo")]
    [InlineData(HostObjectKind.Bridge, "docker0", "it is not the bridge of a network of lab prolo")]
    [InlineData(HostObjectKind.Bridge, "eth0", "it is not the bridge of a network of lab prolo")]
    [InlineData(HostObjectKind.Process, "1", "it is not a pid a lab could have started")]
    [InlineData(HostObjectKind.Process, "-5", "it is not a pid a lab could have started")]
    [InlineData(HostObjectKind.Cgroup, "/sys/fs/cgroup/system.slice", "it is not the cgroup of a machine of lab prolo")]
    public void Names_the_lab_does_not_derive_are_refused(HostObjectKind kind, string name, string why) =>
        Assert.Equal(why, Refusal(Lab("prolo", "gw"), kind, name));

    [Fact]
    public void A_cgroup_is_the_lab_s_only_as_the_cgroup_of_one_of_its_machines()
    {
        var lab = Lab("prolo", "gw");
        foreach (var own in Host.Cgroups.For("prolo", "gw"))
            Assert.Null(Refusal(lab, HostObjectKind.Cgroup, own));
        foreach (var other in Host.Cgroups.For("prolo", "web").Concat(Host.Cgroups.For("prolo", "gw").Select(c => c + "/..")))
            Assert.NotNull(Refusal(lab, HostObjectKind.Cgroup, other));
    }

    [Fact]
    public void What_another_lab_records_is_not_this_lab_s_even_where_names_collide()
    {
        // Lab adv8 with machine x-m1 and lab adv8-x with machine m1 name the same namespace.
        var mine = Lab("adv8", "x-m1");
        var theirs = Lab("adv8-x", "m1");
        theirs.Objects.Add(new HostObject(HostObjectKind.NetworkNamespace, "spawnlab-adv8-x-m1"));

        Assert.Equal("lab adv8-x records it too", Refusal(mine, HostObjectKind.NetworkNamespace, "spawnlab-adv8-x-m1", theirs));
        Assert.Null(Refusal(mine, HostObjectKind.NetworkNamespace, "spawnlab-adv8-x-m1"));
    }

    [Fact]
    public void A_host_veth_that_is_not_the_machine_s_is_refused()
    {
        var lab = Lab("prolo", "gw");
        var iface = new InterfaceState { Network = "lan", Name = "lan", HostVeth = "eth0", Mac = "02:00:00:00:00:01" };

        Assert.Equal("eth0 is not the veth of machine gw of lab prolo on network lan", Ownership.VethRefusal(lab, lab.Machines["gw"], iface));
        Assert.Null(Ownership.VethRefusal(lab, lab.Machines["gw"], new InterfaceState { Network = "lan", Name = "lan", HostVeth = HostNames.HostVeth("prolo", "gw", "lan"), Mac = "m" }));
    }

    [Theory]
    [InlineData("/usr/bin/systemd-nspawn --quiet --machine=gw.prolo --boot", "prolo", "gw")]
    [InlineData("systemd-nspawn --machine=x-m1.adv8", "adv8", "x-m1")]
    [InlineData("systemd-nspawn --machine=m1.adv8-x", "adv8", null)]
    [InlineData("systemd-nspawn --machine=gw.prolo", "olo", null)]
    [InlineData("sleep --machine=gw.prolo", "prolo", null)]
    [InlineData("systemd-nspawn --boot", "prolo", null)]
    public void The_machine_an_nspawn_runs_is_read_from_its_command_line_for_one_lab_only(string commandLine, string lab, string? machine) =>
        Assert.Equal(machine, Spawnlab.Machines.NspawnRuntime.MachineOfArguments(commandLine.Split(' '), lab));
}
