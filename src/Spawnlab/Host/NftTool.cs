namespace Spawnlab.Host;

/// <summary>nftables: one table per lab, so that teardown deletes that table and touches nothing else.</summary>
public sealed class NftTool(IHostShell shell)
{
    public async Task<bool> TableExistsAsync(string table, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("nft", "list", "table", "ip", table).WithoutThrowing(), cancellationToken)).Succeeded;

    /// <summary>
    /// Replaces the lab's table with one that masquerades each subnet towards its uplink only. Where the host bridges
    /// frames through netfilter (br_netfilter, as Docker sets up), frames between machines of a bridge are not
    /// tracked: otherwise the first, bridged, pass of a packet that a machine then routes to the host (a gateway
    /// machine) creates a connection without NAT, and the routed pass is never masqueraded.
    /// </summary>
    public async Task ApplyAsync(string table, IReadOnlyList<(string Subnet, string Uplink)> rules, IReadOnlyList<(string Bridge, string Mac)> bridges, CancellationToken cancellationToken)
    {
        var script = new System.Text.StringBuilder();
        if (await TableExistsAsync(table, cancellationToken))
            script.AppendLine($"delete table ip {table}");
        script.AppendLine($"table ip {table} {{");
        script.AppendLine("  chain prerouting {");
        script.AppendLine("    type filter hook prerouting priority raw; policy accept;");
        foreach (var (bridge, mac) in bridges)
            script.AppendLine($"    iifname \"{bridge}\" ether daddr != {mac} notrack");
        script.AppendLine("  }");
        script.AppendLine("  chain postrouting {");
        script.AppendLine("    type nat hook postrouting priority srcnat; policy accept;");
        foreach (var (subnet, uplink) in rules)
            script.AppendLine($"    ip saddr {subnet} oifname \"{uplink}\" masquerade");
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
