using Spawnlab.Labs;

namespace Spawnlab.Host;

/// <summary>nftables: one table per lab, so that teardown deletes that table and touches nothing else.</summary>
public sealed class NftTool(IHostShell shell)
{
    public async Task<bool> TableExistsAsync(string table, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("nft", "list", "table", "ip", table).WithoutThrowing(), cancellationToken)).Succeeded;

    /// <summary>
    /// Replaces the lab's table. It masquerades each NAT subnet towards its uplink only. It keeps the lab a network of
    /// its own: the host forwards from the lab's bridges only to each other and, for a NAT network, to its uplink (and
    /// the replies back); it accepts from a bridge only what is addressed to its own address on that bridge, as the
    /// network's host_access allows, and replies to what the host asked. Everything else from or to the lab's bridges
    /// is dropped, so another lab, its machines, its DNS server and the host's other addresses are out of reach.
    /// Where the host bridges frames through netfilter (br_netfilter, as Docker sets up), frames between machines of
    /// a bridge are not tracked: otherwise the first, bridged, pass of a packet that a machine then routes to the host
    /// (a gateway machine) creates a connection without NAT, and the routed pass is never masqueraded.
    /// </summary>
    public async Task ApplyAsync(string table, IReadOnlyList<FirewallNetwork> networks, CancellationToken cancellationToken)
    {
        var bridges = "{ " + string.Join(", ", networks.Select(n => $"\"{n.Bridge}\"")) + " }";
        var script = new System.Text.StringBuilder();
        if (await TableExistsAsync(table, cancellationToken))
            script.AppendLine($"delete table ip {table}");
        script.AppendLine($"table ip {table} {{");
        script.AppendLine("  chain prerouting {");
        script.AppendLine("    type filter hook prerouting priority raw; policy accept;");
        foreach (var network in networks)
            script.AppendLine($"    iifname \"{network.Bridge}\" ether daddr != {network.BridgeMac} notrack");
        script.AppendLine("  }");
        script.AppendLine("  chain postrouting {");
        script.AppendLine("    type nat hook postrouting priority srcnat; policy accept;");
        foreach (var network in networks.Where(n => n.NatUplink is not null))
            script.AppendLine($"    ip saddr {network.Subnet} oifname \"{network.NatUplink}\" masquerade");
        script.AppendLine("  }");
        script.AppendLine("  chain forward {");
        script.AppendLine("    type filter hook forward priority filter; policy accept;");
        script.AppendLine($"    iifname {bridges} oifname {bridges} accept");
        foreach (var network in networks.Where(n => n.NatUplink is not null))
        {
            script.AppendLine($"    iifname \"{network.Bridge}\" oifname \"{network.NatUplink}\" accept");
            script.AppendLine($"    iifname \"{network.NatUplink}\" oifname \"{network.Bridge}\" ct state established,related accept");
        }
        script.AppendLine($"    iifname {bridges} drop");
        script.AppendLine($"    oifname {bridges} drop");
        script.AppendLine("  }");
        script.AppendLine("  chain input {");
        script.AppendLine("    type filter hook input priority filter; policy accept;");
        script.AppendLine($"    iifname {bridges} ct state established,related accept");
        foreach (var network in networks.Where(n => n.HostAddress is not null))
        {
            var from = $"iifname \"{network.Bridge}\"";
            switch (network.Access)
            {
                case HostAccess.All:
                    script.AppendLine($"    {from} udp dport 67 accept");
                    script.AppendLine($"    {from} ip daddr {network.HostAddress} accept");
                    break;
                case HostAccess.DhcpDns:
                    script.AppendLine($"    {from} udp dport 67 accept");
                    script.AppendLine($"    {from} ip daddr {network.HostAddress} udp dport 53 accept");
                    script.AppendLine($"    {from} ip daddr {network.HostAddress} tcp dport 53 accept");
                    script.AppendLine($"    {from} ip daddr {network.HostAddress} icmp type echo-request accept");
                    break;
            }
        }
        script.AppendLine($"    iifname {bridges} drop");
        script.AppendLine("  }");
        script.AppendLine("}");
        await shell.RunAsync(HostCommand.Of("nft", "-f", "-").WithStandardInput(script.ToString()), cancellationToken);
    }

    public async Task DeleteTableAsync(string table, CancellationToken cancellationToken)
    {
        if (await TableExistsAsync(table, cancellationToken))
            await shell.RunAsync("nft", ["delete", "table", "ip", table], cancellationToken);
    }
}

/// <summary>One network of a lab, as its firewall sees it.</summary>
public sealed record FirewallNetwork(string Bridge, string BridgeMac, string Subnet, string? HostAddress, string? NatUplink, HostAccess Access);
