using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Networks;
using Spawnlab.Tests.Labs;

namespace Spawnlab.Tests.Networks;

/// <summary>What keeps a lab a network of its own: its lab-file keys, its firewall, its DNS server.</summary>
public sealed class IsolationSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static string Network(string keys) =>
        LabFiles.Valid.Replace("    nat: true\n", $"    nat: true\n{keys}", StringComparison.Ordinal);

    [Fact]
    public void A_network_reaches_all_of_the_host_s_services_at_its_address_and_forwards_DNS_only_with_NAT_by_default()
    {
        var lan = _files.Parse(LabFiles.Valid).Networks["lan"];
        var closed = _files.Parse(LabFiles.Valid.Replace("nat: true", "nat: false", StringComparison.Ordinal)).Networks["lan"];

        Assert.Equal((HostAccess.All, true), (lan.HostAccess, lan.DnsForward));
        Assert.False(closed.DnsForward);
    }

    [Theory]
    [InlineData("    host_access: dhcp-dns\n", HostAccess.DhcpDns)]
    [InlineData("    host_access: none\n", HostAccess.None)]
    [InlineData("    host_access: all\n", HostAccess.All)]
    public void Host_access_is_read(string keys, HostAccess expected) =>
        Assert.Equal(expected, _files.Parse(Network(keys)).Networks["lan"].HostAccess);

    [Theory]
    [InlineData("    host_access: some\n", "host_access: expected all, dhcp-dns or none")]
    [InlineData("    dhcp: true\n    host_access: none\n", "host_access: none leaves the network's DHCP and DNS out of reach")]
    [InlineData("    dns_forward: true\n", "dns_forward: only the host's DNS server of a network with 'dhcp: true' forwards")]
    [InlineData("    dns_forward: maybe\n", "dns_forward: expected true or false")]
    public void Wrong_isolation_keys_are_errors(string keys, string message) =>
        Assert.Contains(_files.Errors(Network(keys)), e => e.Message.Contains(message, StringComparison.Ordinal));

    [Fact]
    public void The_lab_s_DNS_server_asks_no_one_else_unless_the_network_forwards()
    {
        var lab = _files.Parse(Network("    dhcp: true\n    dns_forward: false\n"));
        var forwarding = _files.Parse(Network("    dhcp: true\n"));

        Assert.Contains("no-resolv\n", DnsmasqConfig.For(lab, lab.Networks["lan"], "slb", "leases", "hosts"), StringComparison.Ordinal);
        Assert.DoesNotContain("no-resolv", DnsmasqConfig.For(forwarding, forwarding.Networks["lan"], "slb", "leases", "hosts"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_firewall_forwards_only_between_the_lab_s_bridges_and_to_a_NAT_uplink_and_lets_in_only_what_host_access_allows()
    {
        var shell = new Fakes.FakeShell().Answer("nft list table", "", exitCode: 1);

        await new NftTool(shell).ApplyAsync("spawnlab_prolo",
        [
            new FirewallNetwork("slblan-1", "02:00:00:00:00:01", "10.0.0.0/24", "10.0.0.1", "eth0", HostAccess.All),
            new FirewallNetwork("slbdmz-2", "02:00:00:00:00:02", "10.0.1.0/24", "10.0.1.1", null, HostAccess.DhcpDns),
            new FirewallNetwork("slbsec-3", "02:00:00:00:00:03", "10.0.2.0/24", "10.0.2.1", null, HostAccess.None),
        ], CancellationToken.None);

        var script = shell.Commands.Single(c => c.Program == "nft" && c.Arguments[0] == "-f").StandardInput!;
        Assert.Contains("""
              chain forward {
                type filter hook forward priority filter; policy accept;
                iifname { "slblan-1", "slbdmz-2", "slbsec-3" } oifname { "slblan-1", "slbdmz-2", "slbsec-3" } accept
                iifname "slblan-1" oifname "eth0" accept
                iifname "eth0" oifname "slblan-1" ct state established,related accept
                iifname { "slblan-1", "slbdmz-2", "slbsec-3" } drop
                oifname { "slblan-1", "slbdmz-2", "slbsec-3" } drop
              }
            """, script, StringComparison.Ordinal);
        Assert.Contains("""
              chain input {
                type filter hook input priority filter; policy accept;
                iifname { "slblan-1", "slbdmz-2", "slbsec-3" } ct state established,related accept
                iifname "slblan-1" udp dport 67 accept
                iifname "slblan-1" ip daddr 10.0.0.1 accept
                iifname "slbdmz-2" udp dport 67 accept
                iifname "slbdmz-2" ip daddr 10.0.1.1 udp dport 53 accept
                iifname "slbdmz-2" ip daddr 10.0.1.1 tcp dport 53 accept
                iifname "slbdmz-2" ip daddr 10.0.1.1 icmp type echo-request accept
                iifname { "slblan-1", "slbdmz-2", "slbsec-3" } drop
              }
            """, script, StringComparison.Ordinal);
        Assert.Contains("ip saddr 10.0.0.0/24 oifname \"eth0\" masquerade", script, StringComparison.Ordinal);
    }
}
