using System.Diagnostics;

namespace Spawnlab.HostTests;

/// <summary>
/// A three-member LXD cluster on this one host, for one test: each member is a daemon in a network namespace of its
/// own (started with nsenter --net: `ip netns exec` would mount a /sys that hides the cgroups), its eth0 a veth on a
/// bridge of the host. Member 1 is initialised by preseed (a `dir` pool, the default profile's root disk on it) and
/// the others join with tokens. Disposing it stops every daemon and removes their folders, mounts, namespaces and the
/// bridge, on failure too.
/// </summary>
public sealed class LxdCluster : IAsyncDisposable
{
    private readonly string _bridge = $"slcl{Random.Shared.Next(100, 999)}";
    private readonly List<(string Name, string Namespace, string Directory, Process? Daemon)> _members = [];

    public const string Subnet = "10.199.0";

    /// <summary>
    /// Run in the member's network namespace and a mount namespace of its own: a /sys that shows the namespace's
    /// interfaces (LXD looks for its bridges there, and takes one it does not see for Open vSwitch), with the host's
    /// cgroup hierarchies moved back under it; then the daemon ("$@" after the folder in $1).
    /// </summary>
    private const string SysOfTheNamespace =
        "set -e; d=$1; shift; mkdir -p \"$d/cgroup\"; mount --rbind /sys/fs/cgroup \"$d/cgroup\"; mount -t sysfs sysfs /sys; "
        + "mount --move \"$d/cgroup\" /sys/fs/cgroup; exec \"$@\"";

    /// <summary>Member 1's unix socket: the cluster's API, as a lab's `lxd: remote:` names it.</summary>
    public string Socket => Path.Combine(_members[0].Directory, "unix.socket");

    public string Directory => _members[0].Directory;

    public static async Task<LxdCluster> StartAsync(int size = 3)
    {
        var cluster = new LxdCluster();
        try
        {
            await cluster.FormAsync(size);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private static async Task Run(params string[] command)
    {
        var info = new ProcessStartInfo(command[0], command[1..]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', command)}: {await output}{await error}");
    }

    private async Task FormAsync(int size)
    {
        await Run("ip", "link", "add", _bridge, "type", "bridge");
        await Run("ip", "addr", "add", $"{Subnet}.1/24", "dev", _bridge);
        await Run("ip", "link", "set", _bridge, "up");
        for (var i = 1; i <= size; i++)
        {
            var name = $"m{i}";
            var ns = $"{_bridge}-{name}";
            var directory = System.IO.Directory.CreateTempSubdirectory("spawnlab-lxdc-").FullName;
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            _members.Add((name, ns, directory, null));
            await Run("ip", "netns", "add", ns);
            await Run("ip", "link", "add", $"{_bridge}v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns);
            await Run("ip", "link", "set", $"{_bridge}v{i}", "master", _bridge, "up");
            await Run("ip", "-n", ns, "addr", "add", $"{Subnet}.1{i}/24", "dev", "eth0");
            await Run("ip", "-n", ns, "link", "set", "eth0", "up");
            await Run("ip", "-n", ns, "link", "set", "lo", "up");
            await Run("ip", "-n", ns, "route", "add", "default", "via", $"{Subnet}.1");
            var daemon = Process.Start(new ProcessStartInfo("nsenter", [$"--net=/run/netns/{ns}", "unshare", "--mount", "--propagation", "private", "--",
                "/bin/sh", "-c", SysOfTheNamespace, "sh", directory, "lxd", "--group", "root", "--logfile", Path.Combine(directory, "lxd.log")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment = { ["LXD_DIR"] = directory },
            })!;
            _members[^1] = (name, ns, directory, daemon);
            await WaitReadyAsync(directory);
        }
        await PreseedAsync(_members[0].Directory, $"""
            config:
              core.https_address: {Subnet}.11:8443
            storage_pools:
            - name: default
              driver: dir
            profiles:
            - name: default
              devices:
                root: {"{"} path: /, pool: default, type: disk {"}"}
            cluster:
              server_name: m1
              enabled: true
            """);
        for (var i = 2; i <= size; i++)
        {
            var token = (await LxcAsync(_members[0].Directory, "cluster", "add", $"m{i}")).Trim().Split('\n')[^1].Trim();
            await PreseedAsync(_members[i - 1].Directory, $"""
                cluster:
                  enabled: true
                  server_name: m{i}
                  server_address: {Subnet}.1{i}:8443
                  cluster_address: {Subnet}.11:8443
                  cluster_token: {token}
                  member_config:
                  - entity: storage-pool
                    name: default
                    key: source
                    value: ""
                """);
        }
    }

    private static async Task WaitReadyAsync(string directory)
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await LxcAsync(directory, "query", "/1.0")).Contains("api_extensions", StringComparison.Ordinal))
                return;
            await Task.Delay(200);
        }
        Assert.Fail($"the LXD daemon of {directory} did not answer within 20 s");
    }

    private static async Task PreseedAsync(string directory, string yaml)
    {
        var (code, output) = await HostProbe.RunWithAsync(("LXD_DIR", directory), yaml, "lxd", "init", "--preseed");
        Assert.True(code == 0, $"lxd init --preseed in {directory}: {output}");
    }

    private static async Task<string> LxcAsync(string directory, params string[] arguments) =>
        (await HostProbe.RunWithAsync(("LXD_DIR", directory), null, "lxc", arguments)).Output;

    /// <summary>The lxc client against the cluster (member 1).</summary>
    public Task<string> LxcAsync(params string[] arguments) => LxcAsync(_members[0].Directory, arguments);

    /// <summary>Processes whose command line names a member's folder.</summary>
    public IReadOnlyList<string> Processes() => [.. HostProbe.ProcessesMentioning([.. _members.Select(m => m.Directory)]).Select(p => p.CommandLine)];

    public async ValueTask DisposeAsync()
    {
        // Members stop last to first, so that the database's leader goes last.
        foreach (var member in Enumerable.Reverse(_members))
        {
            using (var shutdown = Process.Start(new ProcessStartInfo("lxd", ["shutdown", "--timeout", "20"]) { Environment = { ["LXD_DIR"] = member.Directory } })!)
                await shutdown.WaitForExitAsync();
            if (member.Daemon is { } daemon)
            {
                if (!daemon.WaitForExit(TimeSpan.FromSeconds(20)))
                    daemon.Kill(entireProcessTree: true);
                daemon.Dispose();
            }
        }
        HostProbe.KillProcessesMentioning([.. _members.Select(m => m.Directory)]);
        foreach (var member in _members)
        {
            foreach (var mount in HostProbe.MountsUnder(member.Directory + "/").OrderByDescending(m => m.Length))
                await HostProbe.RunAsync("umount", "-l", mount);
            System.IO.Directory.Delete(member.Directory, recursive: true);
            await HostProbe.RunAsync("ip", "netns", "delete", member.Namespace);
        }
        await HostProbe.RunAsync("ip", "link", "delete", _bridge);
    }
}
