namespace Spawnlab.Host;

/// <summary>nftables: one table per lab, so that teardown deletes that table and touches nothing else.</summary>
public sealed class NftTool(IHostShell shell)
{
    public async Task<bool> TableExistsAsync(string table, CancellationToken cancellationToken) =>
        (await shell.RunAsync(HostCommand.Of("nft", "list", "table", "ip", table).WithoutThrowing(), cancellationToken)).Succeeded;

    /// <summary>Replaces the lab's table with one that masquerades each subnet towards its uplink only.</summary>
    public async Task ApplyNatAsync(string table, IReadOnlyList<(string Subnet, string Uplink)> rules, CancellationToken cancellationToken)
    {
        var script = new System.Text.StringBuilder();
        if (await TableExistsAsync(table, cancellationToken))
            script.AppendLine($"delete table ip {table}");
        script.AppendLine($"table ip {table} {{");
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
