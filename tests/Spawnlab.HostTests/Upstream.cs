namespace Spawnlab.HostTests;

/// <summary>
/// A simulated internet for NAT tests: a network namespace behind a veth pair, holding an address that only it has.
/// It has no route back to any lab subnet, so a reply reaches a machine only if the host masqueraded the request.
/// Only the test address is routed through it, never the default route.
/// </summary>
public sealed class Upstream : IAsyncDisposable
{
    public const string HostAddress = "198.51.100.1";
    public const string PeerAddress = "198.51.100.2";
    public const string Target = "203.0.113.7";

    private readonly string _suffix = Random.Shared.Next(1000, 9999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string Namespace => $"sltest-up{_suffix}";
    public string HostInterface => $"sltu{_suffix}";

    public static async Task<Upstream> CreateAsync()
    {
        var upstream = new Upstream();
        try
        {
            await upstream.SetUpAsync();
        }
        catch
        {
            await upstream.DisposeAsync();
            throw;
        }
        return upstream;
    }

    private async Task SetUpAsync()
    {
        await Run("ip", "netns", "add", Namespace);
        await Run("ip", "link", "add", HostInterface, "type", "veth", "peer", "name", "up0", "netns", Namespace);
        await Run("ip", "addr", "add", $"{HostAddress}/30", "dev", HostInterface);
        await Run("ip", "link", "set", HostInterface, "up");
        await Run("ip", "-n", Namespace, "link", "set", "lo", "up");
        await Run("ip", "-n", Namespace, "addr", "add", $"{PeerAddress}/30", "dev", "up0");
        await Run("ip", "-n", Namespace, "addr", "add", $"{Target}/32", "dev", "lo");
        await Run("ip", "-n", Namespace, "link", "set", "up0", "up");
        await Run("ip", "route", "add", $"{Target}/32", "via", PeerAddress, "dev", HostInterface);
        // Counts echo requests by source address, to show what the upstream saw.
        await RunWithInput(stdin: """
            table ip seen {
              chain input {
                type filter hook input priority 0; policy accept;
                ip saddr 198.51.100.1 icmp type echo-request counter comment "masqueraded"
                ip saddr != 198.51.100.1 icmp type echo-request counter comment "other"
              }
            }
            """, "ip", "netns", "exec", Namespace, "nft", "-f", "-");
    }

    /// <summary>Echo requests the upstream received from the host's upstream address, and from anywhere else.</summary>
    public async Task<(long Masqueraded, long Other)> SeenAsync()
    {
        var listing = await HostProbe.RunAsync("ip", "netns", "exec", Namespace, "nft", "list", "table", "ip", "seen");
        long Count(string comment) => listing.Split('\n')
            .Where(l => l.Contains($"comment \"{comment}\"", StringComparison.Ordinal))
            .Select(l => long.Parse(System.Text.RegularExpressions.Regex.Match(l, @"packets (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
            .Single();
        return (Count("masqueraded"), Count("other"));
    }

    public async ValueTask DisposeAsync()
    {
        await HostProbe.RunAsync("ip", "route", "del", $"{Target}/32");
        await HostProbe.RunAsync("ip", "link", "del", HostInterface);
        await HostProbe.RunAsync("ip", "netns", "del", Namespace);
    }

    private static Task Run(string program, params string[] arguments) => RunWithInput(null, program, arguments);

    private static async Task RunWithInput(string? stdin, string program, params string[] arguments)
    {
        var command = Spawnlab.Host.HostCommand.Of(program, arguments);
        if (stdin is not null)
            command = command.WithStandardInput(stdin);
        await new Spawnlab.Host.CliWrapShell().RunAsync(command, CancellationToken.None);
    }
}
