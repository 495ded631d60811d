using System.Text.Json;

namespace Spawnlab.Host;

/// <summary>iproute2: links, addresses, routes and network namespaces.</summary>
public sealed class IpTool(IHostShell shell)
{
    public async Task<bool> LinkExistsAsync(string name, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("ip", "link", "show", "dev", name).WithoutThrowing(), cancellationToken)).Succeeded;

    public async Task<bool> NamespaceExistsAsync(string name, CancellationToken cancellationToken) =>
        File.Exists($"/run/netns/{name}") || (await NamespacesAsync(cancellationToken)).Contains(name);

    public async Task<IReadOnlyList<string>> NamespacesAsync(CancellationToken cancellationToken) =>
        (await shell.OutputAsync(HostCommand.Of("ip", "netns", "list"), cancellationToken))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToList();

    /// <summary>A bridge with a fixed MAC (a bridge otherwise takes the lowest MAC of its ports, which changes).</summary>
    public async Task CreateBridgeAsync(string name, string mac, string? cidr, CancellationToken cancellationToken)
    {
        await shell.RunAsync("ip", ["link", "add", name, "address", mac, "type", "bridge"], cancellationToken);
        if (cidr is not null)
            await shell.RunAsync("ip", ["addr", "add", cidr, "dev", name], cancellationToken);
        await shell.RunAsync("ip", ["link", "set", name, "up"], cancellationToken);
    }

    public async Task DeleteLinkAsync(string name, CancellationToken cancellationToken)
    {
        if (await LinkExistsAsync(name, cancellationToken))
            await shell.RunAsync(HostCommand.Of("ip", "link", "del", name), cancellationToken);
    }

    public async Task CreateNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        await shell.RunAsync("ip", ["netns", "add", name], cancellationToken);
        await shell.RunAsync("ip", ["-n", name, "link", "set", "lo", "up"], cancellationToken);
    }

    /// <summary>Names the network namespace of a running process (one nspawn made), as if `ip netns add` had made it.</summary>
    public Task AttachNamespaceAsync(string name, int pid, CancellationToken cancellationToken) =>
        shell.RunAsync("ip", ["netns", "attach", name, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)], cancellationToken);

    /// <summary>Deletes a namespace; the veth ends inside it go with it, and so do their peers on the host.</summary>
    public async Task DeleteNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        if (await NamespaceExistsAsync(name, cancellationToken))
            await shell.RunAsync("ip", ["netns", "del", name], cancellationToken);
    }

    /// <summary>A veth pair with one end on a bridge of the host and the other, named and addressed, in a namespace.</summary>
    public async Task CreateVethIntoAsync(
        string hostName, string bridge, string @namespace, string innerName, string mac,
        string? cidr, string? gateway, CancellationToken cancellationToken)
    {
        await shell.RunAsync("ip", ["link", "add", hostName, "type", "veth", "peer", "name", innerName, "netns", @namespace], cancellationToken);
        await shell.RunAsync("ip", ["-n", @namespace, "link", "set", innerName, "address", mac], cancellationToken);
        await shell.RunAsync("ip", ["link", "set", hostName, "master", bridge, "up"], cancellationToken);
        await shell.RunAsync("ip", ["-n", @namespace, "link", "set", innerName, "up"], cancellationToken);
        if (cidr is not null)
            await shell.RunAsync("ip", ["-n", @namespace, "addr", "add", cidr, "dev", innerName], cancellationToken);
        if (gateway is not null)
            await shell.RunAsync("ip", ["-n", @namespace, "route", "add", "default", "via", gateway, "dev", innerName], cancellationToken);
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
