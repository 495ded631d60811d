using System.Net;
using System.Net.Sockets;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;

namespace Spawnlab.HostTests.Hostile;

/// <summary>Two labs on one host, with forwarding on: each is a network of its own, and reaches of the host what it says.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class IsolationSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>Whether a TCP connection from inside the machine to the address and port opens within two seconds.</summary>
    private static async Task<bool> ConnectsAsync(LabController controller, string lab, string machine, string address, int port)
    {
        var (state, found) = controller.FindMachine($"{lab}/{machine}");
        var result = await new Spawnlab.Host.CliWrapShell().RunAsync(
            controller.SessionOf(state, found).Enter(["nc", "-z", "-w", "2", address, port.ToString(System.Globalization.CultureInfo.InvariantCulture)]).WithoutThrowing(),
            CancellationToken.None);
        return result.Succeeded;
    }

    private static async Task<bool> PingsAsync(LabController controller, string lab, string machine, string address)
    {
        var (state, found) = controller.FindMachine($"{lab}/{machine}");
        var result = await new Spawnlab.Host.CliWrapShell().RunAsync(
            controller.SessionOf(state, found).Enter(["ping", "-c", "1", "-W", "1", address]).WithoutThrowing(),
            CancellationToken.None);
        return result.Succeeded;
    }

    [HostFact]
    public async Task Labs_cannot_reach_each_other_nor_the_host_s_other_addresses_and_host_access_limits_what_they_reach_of_the_host()
    {
        await using var upstream = await Upstream.CreateAsync();
        var (a, b) = (TestLab.Name("isa"), TestLab.Name("isb"));
        var labA = _files.Write($$"""
            lab: {{a}}
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.237.1.0/24, host: 10.237.1.1, nat: true, uplink: {{upstream.HostInterface}} }
              dmz: { subnet: 10.237.3.0/24, host: 10.237.3.1, host_access: dhcp-dns }
            machines:
              a1:
                image: base
                networks:
                  lan: { address: 10.237.1.10/24, gateway: 10.237.1.1 }
              a2:
                image: base
                networks:
                  dmz: { address: 10.237.3.10/24, gateway: 10.237.3.1 }
            """, "a.yaml");
        var labB = _files.Write($$"""
            lab: {{b}}
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.237.2.0/24, host: 10.237.2.1, dhcp: true }
            machines:
              b1:
                image: base
                networks:
                  lan: { address: 10.237.2.10/24, gateway: 10.237.2.1 }
            """, "b.yaml");
        var controller = host.Controller(DriverChoice.Btrfs);
        // A service of the host on every address.
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var accepting = new CancellationTokenSource();
        var accept = Task.Run(async () =>
        {
            while (!accepting.IsCancellationRequested)
                (await listener.AcceptTcpClientAsync(accepting.Token)).Dispose();
        });
        try
        {
            await controller.UpCleanlyAsync(labA);
            await controller.UpCleanlyAsync(labB);
            Assert.Equal("1", (await File.ReadAllTextAsync("/proc/sys/net/ipv4/ip_forward")).Trim());

            // Within a lab, and to the upstream through NAT: as before.
            Assert.True(await PingsAsync(controller, a, "a1", "10.237.1.1"));
            Assert.True(await PingsAsync(controller, a, "a1", Upstream.Target));
            Assert.True(await PingsAsync(controller, b, "b1", "10.237.2.1"));

            // Between labs: no machine, no DNS server, no host address of the other lab.
            Assert.False(await PingsAsync(controller, a, "a1", "10.237.2.10"));
            Assert.False(await PingsAsync(controller, b, "b1", "10.237.1.10"));
            Assert.False(await PingsAsync(controller, a, "a1", "10.237.2.1"));
            Assert.False(await ConnectsAsync(controller, a, "a1", "10.237.2.1", 53));
            Assert.False(await PingsAsync(controller, b, "b1", "10.237.1.1"));
            // Nor the host's other addresses: its upstream one, another network's of the same lab.
            Assert.False(await ConnectsAsync(controller, a, "a1", Upstream.HostAddress, port));
            Assert.False(await ConnectsAsync(controller, b, "b1", "10.237.1.1", port));

            // host_access: all reaches the host's service at the network's own address; dhcp-dns only DNS (and ping).
            Assert.True(await ConnectsAsync(controller, a, "a1", "10.237.1.1", port));
            Assert.True(await ConnectsAsync(controller, b, "b1", "10.237.2.1", port));
            Assert.True(await ConnectsAsync(controller, b, "b1", "10.237.2.1", 53));
            Assert.False(await ConnectsAsync(controller, a, "a2", "10.237.3.1", port));
            Assert.True(await PingsAsync(controller, a, "a2", "10.237.3.1"));
            // The host still reaches the machines, whatever host_access says.
            Assert.Contains("1 received", await HostProbe.RunAsync("ping", "-c", "1", "-W", "2", "10.237.3.10"), StringComparison.Ordinal);
        }
        finally
        {
            await accepting.CancelAsync();
            listener.Stop();
            await Task.WhenAny(accept);
            await controller.DownIfUpAsync(a);
            await controller.DownIfUpAsync(b);
        }
    }
}
