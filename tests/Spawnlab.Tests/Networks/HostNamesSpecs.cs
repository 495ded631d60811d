using Spawnlab.Labs;
using Spawnlab.Networks;

namespace Spawnlab.Tests.Networks;

public sealed class HostNamesSpecs
{
    private static readonly string LongLab = new('l', LabParser.MaxLabNameLength);
    private static readonly string LongMachine = new('m', LabParser.MaxMachineNameLength);
    private static readonly string LongNetwork = new('n', LabParser.MaxNetworkNameLength);

    [Fact]
    public void Interface_names_fit_in_15_bytes_even_for_the_longest_names()
    {
        Assert.InRange(HostNames.Bridge(LongLab, LongNetwork).Length, 1, HostNames.MaxInterfaceName);
        Assert.InRange(HostNames.HostVeth(LongLab, LongMachine, LongNetwork).Length, 1, HostNames.MaxInterfaceName);
        Assert.InRange(HostNames.Bridge("a", "b").Length, 1, HostNames.MaxInterfaceName);
    }

    [Fact]
    public void Names_are_stable_across_runs()
    {
        // Pinned: a change here renames every object of every lab that is up, and down would no longer find them.
        Assert.Equal("slblan-7096be", HostNames.Bridge("prolo", "lan"));
        Assert.Equal("slvgw-3021b2", HostNames.HostVeth("prolo", "gw", "lan"));
        Assert.Equal("02:4e:52:68:f8:87", HostNames.Mac("prolo", "gw", "lan"));
        Assert.Equal("slvpas-r-" + HostNames.HostVeth("prolo", "pas-r11p11", "lan")[^6..], HostNames.HostVeth("prolo", "pas-r11p11", "lan"));
    }

    [Fact]
    public void Names_differ_between_labs_machines_and_networks()
    {
        var names = new HashSet<string>();
        foreach (var lab in new[] { "a", "a-b", "prolo", "prolo2" })
        {
            foreach (var network in new[] { "lan", "b-lan", "wan" })
            {
                Assert.True(names.Add(HostNames.Bridge(lab, network)));
                foreach (var machine in new[] { "gw", "web", "pas-r11p11", "pas-r11p12" })
                    Assert.True(names.Add(HostNames.HostVeth(lab, machine, network)));
            }
        }
    }

    [Fact]
    public void A_hundred_machines_get_distinct_interfaces_and_MACs()
    {
        var machines = Enumerable.Range(0, 100).Select(i => $"client{i:000}").ToList();
        Assert.Equal(100, machines.Select(m => HostNames.HostVeth("contest", m, "lan")).Distinct().Count());
        Assert.Equal(100, machines.Select(m => HostNames.Mac("contest", m, "lan")).Distinct().Count());
    }

    [Fact]
    public void MACs_are_locally_administered_unicast()
    {
        var mac = HostNames.Mac("prolo", "gw", "lan");
        Assert.Matches("^([0-9a-f]{2}:){5}[0-9a-f]{2}$", mac);
        var first = Convert.ToByte(mac[..2], 16);
        Assert.Equal(0x02, first & 0x03);
    }

    [Fact]
    public void Names_carry_the_spawnlab_prefix()
    {
        Assert.StartsWith(HostNames.InterfacePrefix, HostNames.Bridge("prolo", "lan"), StringComparison.Ordinal);
        Assert.StartsWith(HostNames.InterfacePrefix, HostNames.HostVeth("prolo", "gw", "lan"), StringComparison.Ordinal);
        Assert.Equal("spawnlab_my_lab", HostNames.NftTable("my-lab"));
        Assert.Equal("spawnlab-prolo-gw", HostNames.Namespace("prolo", "gw"));
    }
}

public sealed class Ipv4Specs
{
    [Fact]
    public void Subnet_arithmetic_gives_masks_usable_addresses_and_the_upper_half()
    {
        var subnet = System.Net.IPNetwork.Parse("10.0.0.0/24");

        Assert.Equal("10.0.0.0", Ipv4.Mask(System.Net.IPAddress.Parse("10.0.0.77"), 24).ToString());
        Assert.Equal("255.255.254.0", Ipv4.Netmask(23).ToString());
        Assert.Equal(("10.0.0.128", "10.0.0.254"), (Ipv4.UpperHalf(subnet).First.ToString(), Ipv4.UpperHalf(subnet).Last.ToString()));
        Assert.True(Ipv4.IsUsable(subnet, System.Net.IPAddress.Parse("10.0.0.1")));
        Assert.False(Ipv4.IsUsable(subnet, System.Net.IPAddress.Parse("10.0.0.255")));
        Assert.False(Ipv4.IsUsable(subnet, System.Net.IPAddress.Parse("10.0.0.0")));
        Assert.False(Ipv4.IsUsable(subnet, System.Net.IPAddress.Parse("10.0.1.1")));
        Assert.Equal("10.0.0.10", Ipv4.Offset(subnet, 10).ToString());
    }
}
