using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Spawnlab.HostTests;

/// <summary>
/// An LXD daemon of one test: its own LXD_DIR under /tmp, started as a plain process (no systemd here), offline
/// (no remote image server is configured; nothing is fetched), with nothing configured unless the test asks. Disposing
/// it shuts it down, kills what is left of it, unmounts its mounts and removes its folder, on failure too.
/// </summary>
public sealed class PrivateLxd : IAsyncDisposable
{
    private readonly Process _daemon;

    public string Directory { get; }

    public string Socket => Path.Combine(Directory, "unix.socket");

    /// <summary>Whether the host had LXD's nftables table before this daemon made it (LXD leaves it when it stops).</summary>
    private readonly bool _hadTable;

    private PrivateLxd(string directory, Process daemon, bool hadTable)
    {
        Directory = directory;
        _daemon = daemon;
        _hadTable = hadTable;
    }

    private static async Task<bool> LxdTableExistsAsync() =>
        !(await HostProbe.RunAsync("nft", "list", "table", "inet", "lxd")).Contains("No such file", StringComparison.Ordinal);

    public static bool Installed => File.Exists("/usr/bin/lxd") && File.Exists("/usr/bin/lxc");

    public static async Task<PrivateLxd> StartAsync()
    {
        var hadTable = await LxdTableExistsAsync();
        var directory = System.IO.Directory.CreateTempSubdirectory("spawnlab-lxd-").FullName;
        // Traversable, as LXD keeps its own folder: an unprivileged container's root must be reached through it.
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var info = new ProcessStartInfo("lxd", ["--group", "root", "--logfile", Path.Combine(directory, "lxd.log")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["LXD_DIR"] = directory },
        };
        var daemon = Process.Start(info)!;
        var lxd = new PrivateLxd(directory, daemon, hadTable);
        try
        {
            var ready = await lxd.LxcAsync("query", "/1.0");
            for (var i = 0; i < 100 && !ready.Contains("api_extensions", StringComparison.Ordinal); i++)
            {
                await Task.Delay(200);
                ready = await lxd.LxcAsync("query", "/1.0");
            }
            Assert.Contains("api_extensions", ready);
            return lxd;
        }
        catch
        {
            await lxd.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs the lxc client against this daemon; returns its output and errors.</summary>
    public async Task<string> LxcAsync(params string[] arguments) => (await HostProbe.RunWithAsync(("LXD_DIR", Directory), null, "lxc", arguments)).Output;

    /// <summary>
    /// Serves the API over HTTPS on the loopback and adds it as a remote of an lxc client folder of its own (trusted
    /// by a password, as `lxc remote add` does), which goes with the daemon. Returns the remote's name and the folder.
    /// </summary>
    public async Task<(string Remote, string ClientFolder)> ServeHttpsAsync()
    {
        var port = Random.Shared.Next(20000, 30000);
        await LxcAsync("config", "set", "core.https_address", $"127.0.0.1:{port}");
        await LxcAsync("config", "set", "core.trust_password", "spawnlab-test");
        var folder = Path.Combine(Directory, "client");
        System.IO.Directory.CreateDirectory(folder);
        var (code, output) = await HostProbe.RunWithAsync(("LXD_CONF", folder), null,
            "lxc", "remote", "add", "testlxd", $"https://127.0.0.1:{port}", "--accept-certificate", "--password", "spawnlab-test");
        Assert.True(code == 0, $"lxc remote add: {output}");
        return ("testlxd", folder);
    }

    /// <summary>The names of the objects at an API collection (instances, networks, storage-pools, images, projects).</summary>
    public async Task<IReadOnlyList<string>> NamesAsync(string collection, string? project = null)
    {
        var text = await LxcAsync("query", project is null ? $"/1.0/{collection}" : $"/1.0/{collection}?project={project}");
        return JsonNode.Parse(text)!.AsArray().Select(u => u!.GetValue<string>().Split('?')[0].Split('/')[^1]).ToList();
    }

    /// <summary>The daemon's own networks (LXD also lists the host's interfaces, unmanaged).</summary>
    public async Task<IReadOnlyList<string>> ManagedNetworksAsync() =>
        [.. JsonNode.Parse(await LxcAsync("query", "/1.0/networks?recursion=1"))!.AsArray()
            .Where(n => n!["managed"]!.GetValue<bool>())
            .Select(n => n!["name"]!.GetValue<string>())];

    /// <summary>Processes whose command line names this daemon's folder (its dnsmasq, forkproxy, the daemon itself).</summary>
    public IReadOnlyList<string> Processes() => [.. HostProbe.ProcessesMentioning(Directory).Select(p => p.CommandLine)];

    public async ValueTask DisposeAsync()
    {
        using var info = Process.Start(new ProcessStartInfo("lxd", ["shutdown", "--timeout", "20"]) { Environment = { ["LXD_DIR"] = Directory } })!;
        await info.WaitForExitAsync();
        if (!_daemon.WaitForExit(TimeSpan.FromSeconds(20)))
            _daemon.Kill(entireProcessTree: true);
        _daemon.Dispose();
        HostProbe.KillProcessesMentioning(Directory);
        foreach (var mount in HostProbe.MountsUnder(Directory + "/").OrderByDescending(m => m.Length))
            await HostProbe.RunAsync("umount", "-l", mount);
        System.IO.Directory.Delete(Directory, recursive: true);
        if (!_hadTable && await LxdTableExistsAsync())
            await HostProbe.RunAsync("nft", "delete", "table", "inet", "lxd");
    }
}
