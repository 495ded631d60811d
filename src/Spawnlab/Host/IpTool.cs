using System.Text.Json;

namespace Spawnlab.Host;

/// <summary>iproute2: links, addresses, routes and network namespaces.</summary>
public sealed class IpTool(IHost host)
{
    private readonly IHostShell shell = host.Shell;

    public async Task<bool> LinkExistsAsync(string name, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("ip", "link", "show", "dev", name).WithoutThrowing(), cancellationToken)).Succeeded;

    /// <summary>Where a named network namespace is: what `ip netns` and nspawn's --network-namespace-path take.</summary>
    public static string NamespacePath(string name) => $"/run/netns/{name}";

    /// <summary>A bridge with a fixed MAC (a bridge otherwise takes the lowest MAC of its ports, which changes).</summary>
    public async Task CreateBridgeAsync(string name, string mac, string? cidr, CancellationToken cancellationToken)
    {
        await shell.RunAsync("ip", ["link", "add", name, "address", mac, "type", "bridge"], cancellationToken);
        // No IPv6 link-local address: the lab's firewall is IPv4, and the host is reached at its lab address only.
        await shell.RunAsync("ip", ["link", "set", name, "addrgenmode", "none"], cancellationToken);
        if (cidr is not null)
            await shell.RunAsync("ip", ["addr", "add", cidr, "dev", name], cancellationToken);
        await shell.RunAsync("ip", ["link", "set", name, "up"], cancellationToken);
    }

    /// <summary>A tap for a VM's NIC, on a bridge: the VM's QEMU opens it by name.</summary>
    public async Task CreateTapAsync(string name, string bridge, CancellationToken cancellationToken)
    {
        await shell.RunAsync("ip", ["tuntap", "add", "dev", name, "mode", "tap"], cancellationToken);
        await shell.RunAsync("ip", ["link", "set", name, "addrgenmode", "none", "master", bridge, "up"], cancellationToken);
    }

    /// <summary>The taps (a VM's NICs) that are ports of a bridge.</summary>
    public async Task<IReadOnlyList<string>> TapsOnAsync(string bridge, CancellationToken cancellationToken)
    {
        var result = await shell.RunAsync(HostCommand.Of("ip", "-d", "-j", "link", "show", "master", bridge).WithoutThrowing(), cancellationToken);
        if (!result.Succeeded || result.StandardOutput.Trim().Length == 0)
            return [];
        using var document = JsonDocument.Parse(result.StandardOutput);
        return [.. document.RootElement.EnumerateArray()
            .Where(l => l.TryGetProperty("linkinfo", out var info) && info.TryGetProperty("info_kind", out var kind) && kind.GetString() == "tun")
            .Select(l => l.GetProperty("ifname").GetString()!)];
    }

    /// <summary>Deletes these links where they exist, in one run of ip (one already gone is no error).</summary>
    public async Task DeleteLinksAsync(IReadOnlyCollection<string> names, CancellationToken cancellationToken)
    {
        if (names.Count > 0)
            await shell.RunAsync(HostCommand.Of("ip", "-force", "-batch", "-").WithStandardInput(string.Concat(names.Select(n => $"link del {n}\n"))).WithoutThrowing(), cancellationToken);
    }

    public async Task DeleteLinkAsync(string name, CancellationToken cancellationToken)
    {
        if (await LinkExistsAsync(name, cancellationToken))
            await shell.RunAsync(HostCommand.Of("ip", "link", "del", name), cancellationToken);
    }

    /// <summary>
    /// Wires a machine's network namespace in two runs of ip: on the host, the namespace (made, or, given a process,
    /// that process's attached under the name) and one veth pair per network, the host end on its bridge and the
    /// other, named and with its MAC, in the namespace; then inside, loopback and each machine end up, with its
    /// address and default route.
    /// </summary>
    public async Task WireNamespaceAsync(string @namespace, int? attachTo, IReadOnlyList<Veth> veths, CancellationToken cancellationToken)
    {
        var host = new List<string> { attachTo is { } pid ? $"netns attach {@namespace} {pid}" : $"netns add {@namespace}" };
        var inside = new List<string> { "link set lo up" };
        foreach (var veth in veths)
        {
            host.Add($"link add {veth.HostName} type veth peer name {veth.InnerName} address {veth.Mac} netns {@namespace}");
            host.Add($"link set {veth.HostName} addrgenmode none master {veth.Bridge} up");
            inside.Add($"link set {veth.InnerName} up");
            if (veth.Cidr is not null)
                inside.Add($"addr add {veth.Cidr} dev {veth.InnerName}");
            if (veth.Gateway is not null)
                inside.Add($"route add default via {veth.Gateway} dev {veth.InnerName}");
        }
        await shell.RunAsync(HostCommand.Of("ip", "-batch", "-").WithStandardInput(string.Join('\n', host) + "\n"), cancellationToken);
        await shell.RunAsync(HostCommand.Of("ip", "-n", @namespace, "-batch", "-").WithStandardInput(string.Join('\n', inside) + "\n"), cancellationToken);
    }

    /// <summary>Deletes a namespace; the veth ends inside it go with it, and so do their peers on the host.</summary>
    public async Task DeleteNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        if (host.NetworkNamespaceExists(name))
            await shell.RunAsync("ip", ["netns", "del", name], cancellationToken);
    }

    public Task EnableForwardingAsync(string @namespace, CancellationToken cancellationToken) =>
        shell.RunAsync("ip", ["netns", "exec", @namespace, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"], cancellationToken);

    /// <summary>The first IPv4 address (CIDR) of an interface inside a namespace, or null; how leases are seen from the host.</summary>
    public async Task<string?> NamespaceAddressAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        var result = await shell.RunAsync(HostCommand.Of("ip", "-n", @namespace, "-j", "-4", "addr", "show", "dev", name).WithoutThrowing(), cancellationToken);
        if (!result.Succeeded || result.StandardOutput.Trim().Length == 0)
            return null;
        using var document = JsonDocument.Parse(result.StandardOutput);
        foreach (var link in document.RootElement.EnumerateArray())
        {
            if (!link.TryGetProperty("addr_info", out var addresses))
                continue;
            foreach (var address in addresses.EnumerateArray())
                return $"{address.GetProperty("local").GetString()}/{address.GetProperty("prefixlen").GetInt32()}";
        }
        return null;
    }

    /// <summary>The interface of the host's default IPv4 route: the uplink that NAT masquerades towards.</summary>
    public async Task<string?> DefaultRouteInterfaceAsync(CancellationToken cancellationToken)
    {
        var json = await shell.OutputAsync(HostCommand.Of("ip", "-j", "-4", "route", "show", "default"), cancellationToken);
        using var document = JsonDocument.Parse(json.Length == 0 ? "[]" : json);
        foreach (var route in document.RootElement.EnumerateArray())
        {
            if (route.TryGetProperty("dev", out var dev))
                return dev.GetString();
        }
        return null;
    }

    /// <summary>IPv4 networks of addresses on the host's interfaces, to refuse a lab subnet that clashes with one.</summary>
    public async Task<IReadOnlyList<(string Interface, string Cidr)>> HostAddressesAsync(CancellationToken cancellationToken)
    {
        var json = await shell.OutputAsync(HostCommand.Of("ip", "-j", "-4", "addr", "show"), cancellationToken);
        using var document = JsonDocument.Parse(json.Length == 0 ? "[]" : json);
        var result = new List<(string, string)>();
        foreach (var link in document.RootElement.EnumerateArray())
        {
            var name = link.GetProperty("ifname").GetString()!;
            if (!link.TryGetProperty("addr_info", out var addresses))
                continue;
            foreach (var address in addresses.EnumerateArray())
                result.Add((name, $"{address.GetProperty("local").GetString()}/{address.GetProperty("prefixlen").GetInt32()}"));
        }
        return result;
    }
}

/// <summary>A veth pair of a machine: the host end on a network's bridge, the machine end named after the network.</summary>
public sealed record Veth(string HostName, string Bridge, string InnerName, string Mac, string? Cidr, string? Gateway);
