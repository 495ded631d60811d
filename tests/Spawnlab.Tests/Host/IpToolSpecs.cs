using Spawnlab.Host;
using Spawnlab.Tests.Fakes;

namespace Spawnlab.Tests.Host;

public sealed class IpToolSpecs
{
    private static readonly Veth[] Veths =
    [
        new("slvgw-123456", "slblan-abcdef", "lan", "02:00:00:00:00:01", "10.0.0.254/24", "10.0.0.1"),
        new("slvgw-654321", "slbdmz-fedcba", "dmz", "02:00:00:00:00:02", null, null),
    ];

    [Fact]
    public async Task A_machine_is_wired_in_one_run_of_ip_on_the_host_and_one_in_its_namespace()
    {
        var host = new FakeHost();
        var shell = host.Shell;

        await new IpTool(host).WireNamespaceAsync("spawnlab-lab-gw", attachTo: null, Veths, CancellationToken.None);

        Assert.Equal(["ip -batch -", "ip -n spawnlab-lab-gw -batch -"], shell.Commands.Select(c => c.ToString()));
        Assert.Equal(
            """
            netns add spawnlab-lab-gw
            link add slvgw-123456 type veth peer name lan address 02:00:00:00:00:01 netns spawnlab-lab-gw
            link set slvgw-123456 addrgenmode none master slblan-abcdef up
            link add slvgw-654321 type veth peer name dmz address 02:00:00:00:00:02 netns spawnlab-lab-gw
            link set slvgw-654321 addrgenmode none master slbdmz-fedcba up

            """.ReplaceLineEndings("\n"),
            shell.Commands[0].StandardInput);
        Assert.Equal(
            """
            link set lo up
            link set lan up
            addr add 10.0.0.254/24 dev lan
            route add default via 10.0.0.1 dev lan
            link set dmz up

            """.ReplaceLineEndings("\n"),
            shell.Commands[1].StandardInput);
    }

    [Fact]
    public async Task The_network_namespace_nspawn_made_is_attached_instead_of_made()
    {
        var host = new FakeHost();
        var shell = host.Shell;

        await new IpTool(host).WireNamespaceAsync("spawnlab-lab-gw", attachTo: 4242, Veths, CancellationToken.None);

        Assert.StartsWith("netns attach spawnlab-lab-gw 4242\n", shell.Commands[0].StandardInput, StringComparison.Ordinal);
    }
}
