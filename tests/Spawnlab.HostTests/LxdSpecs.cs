using System.Text.Json.Nodes;

namespace Spawnlab.HostTests;

/// <summary>
/// Labs on a private LXD daemon (engine: lxd), through the CLI as a user runs it: two networks, stages and checks,
/// an edit and rerun, a restore, and a teardown that leaves nothing in the daemon or on the host.
/// </summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class LxdSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private string State => host.Options(Spawnlab.Pool.DriverChoice.Btrfs).StateDirectory;

    private async Task<string> Cli(params string[] arguments)
    {
        var (code, stdout, stderr) = await HostProbe.CliAsync(State, null, arguments);
        Assert.True(code == 0, $"spawnlab {string.Join(' ', arguments)} exited {code}:\n{stdout}\n{stderr}");
        return stdout + stderr;
    }

    /// <summary>Asserts that the CLI said <paramref name="expected"/>, showing all it said when it did not.</summary>
    private static void Has(string expected, string output) => Assert.True(output.Contains(expected, StringComparison.Ordinal), $"expected \"{expected}\" in:\n{output}");

    private static string Lab(string name, string socket, string serve) => $$"""
        lab: {{name}}
        engine: lxd
        lxd: { remote: {{socket}} }
        {{TestLab.Image}}
        networks:
          front: { subnet: 10.246.0.0/24, host: 10.246.0.1, dhcp: true }
          back: { subnet: 10.247.0.0/24 }
        machines:
          web:
            image: base
            tmpfs: [/scratch]
            networks:
              front: { dhcp: true }
              back: { address: 10.247.0.10/24 }
            stages:
              - name: install
                run: cat /proc/sys/kernel/random/uuid > /stage1
                checks:
                  - command: test -s /stage1
              - name: serve
                run: {{serve}}
          db:
            image: base
            after: [web/install]
            networks:
              back: { address: 10.247.0.20/24 }
            stages:
              - name: ready
                run: echo db > /db
                checks:
                  - ping: 10.247.0.10
                  - command: getent hosts web
        """;

    [LxdFact]
    public async Task A_lab_runs_on_a_fresh_LXD_daemon_reruns_what_changed_restores_and_leaves_nothing()
    {
        var name = TestLab.Name("lxd");
        await using var lxd = await PrivateLxd.StartAsync();
        var file = Path.Combine(_files.Directory, "lab.yaml");
        _files.Write(Lab(name, lxd.Socket, "echo two > /stage2"));
        var project = $"spawnlab-{name}";
        try
        {
            var up = await Cli("up", file);
            Has("3 passed, 0 failed", up);
            Assert.Equal(["db", "web"], (await lxd.NamesAsync("instances", project)).Order());
            // What the lab made on a daemon that had nothing: its project, a storage pool, two networks, its image.
            Assert.Contains($"spawnlab-{name}", await lxd.NamesAsync("storage-pools"));
            Assert.Single(await lxd.NamesAsync("images"));

            var ls = JsonNode.Parse(await HostProbe.CliAsync(State, null, "ls", "--json", name).ContinueWith(t => t.Result.Stdout))!.AsArray();
            var web = ls.Single(m => m!["machine"]!.GetValue<string>() == "web")!;
            Assert.Equal("running", web["state"]!.GetValue<string>());
            Assert.Matches(@"^10\.246\.0\.\d+/24$", web["interfaces"]!.AsArray().Single(i => i!["network"]!.GetValue<string>() == "front")!["address"]!.GetValue<string>());
            Assert.Contains("tmpfs", await Cli("exec", $"{name}/web", "--", "findmnt", "-n", "-o", "FSTYPE", "/scratch"));
            Assert.Equal("two", (await Cli("exec", $"{name}/web", "--", "cat", "/stage2")).Trim());
            // The image went into LXD whole: a relative symbolic link of nginx's is as debootstrap made it.
            Assert.Equal("../../lib/nginx/modules", (await Cli("exec", $"{name}/web", "--", "readlink", "/usr/share/nginx/modules")).Trim());
            var stage1 = (await Cli("exec", $"{name}/web", "--", "cat", "/stage1")).Trim();

            // A cached rerun touches nothing; an edited stage reruns from itself, on the snapshot of the one before.
            Has("every stage cached", await Cli("up", file));
            _files.Write(Lab(name, lxd.Socket, "echo three > /stage2"));
            Has("machine web: restore its root to stage install; cached: install; run serve", await Cli("up", "--dry-run", file));
            var rerun = await Cli("up", file);
            Has("web: restoring stage install", rerun);
            Assert.DoesNotContain("stage install (1/2)", rerun);
            Assert.Equal("three", (await Cli("exec", $"{name}/web", "--", "cat", "/stage2")).Trim());
            Assert.Equal(stage1, (await Cli("exec", $"{name}/web", "--", "cat", "/stage1")).Trim());

            await Cli("restore", $"{name}/web", "install");
            Assert.Equal("gone", (await Cli("exec", $"{name}/web", "--", "sh", "-c", "test -e /stage2 && echo there || echo gone")).Trim());
            Assert.Equal(stage1, (await Cli("exec", $"{name}/web", "--", "cat", "/stage1")).Trim());
            Has("3 passed, 0 failed", await Cli("test", name));

            await Cli("down", name);
            Assert.Empty(await lxd.NamesAsync("instances", "default"));
            Assert.Equal(["default"], await lxd.NamesAsync("projects"));
            Assert.Empty(await lxd.NamesAsync("storage-pools"));
            Assert.Empty(await lxd.NamesAsync("images"));
            Assert.Empty(await lxd.ManagedNetworksAsync());
            // The networks' dnsmasq went with them; the daemon is all that runs of it.
            Assert.All(lxd.Processes(), p => Assert.StartsWith("lxd ", p));
        }
        finally
        {
            await HostProbe.CliAsync(State, null, "down", name);
        }
        Assert.False(File.Exists(Path.Combine(State, "labs", name, "state.json")));
        foreach (var network in new[] { "front", "back" })
            Assert.False(await HostProbe.LinkExistsAsync(Spawnlab.Networks.HostNames.LxdBridge(name, network)));
    }

    [LxdFact]
    public async Task On_a_configured_daemon_a_lab_uses_its_default_pool_and_project_and_leaves_them()
    {
        var name = TestLab.Name("lxdc");
        await using var lxd = await PrivateLxd.StartAsync();
        await lxd.LxcAsync("storage", "create", "default", "dir");
        await lxd.LxcAsync("profile", "device", "add", "default", "root", "disk", "path=/", "pool=default");
        await lxd.LxcAsync("project", "create", "mine", "-c", "features.images=false", "-c", "features.profiles=true");
        var file = Path.Combine(_files.Directory, "lab.yaml");
        _files.Write($$"""
            lab: {{name}}
            engine: lxd
            lxd: { remote: "unix://{{lxd.Socket}}", project: mine }
            {{TestLab.Image}}
            machines:
              solo:
                image: base
                private_users: false
                stages:
                  - name: one
                    run: touch /one
                    checks:
                      - command: test -e /one
            """);
        try
        {
            Has("1 passed, 0 failed", await Cli("up", file));
            Assert.Equal(["solo"], await lxd.NamesAsync("instances", "mine"));
            Assert.Contains("true", await lxd.LxcAsync("config", "get", "--project", "mine", "solo", "security.privileged"));
            Assert.Equal(["default"], await lxd.NamesAsync("storage-pools"));
            await Cli("down", name);
            Assert.Empty(await lxd.NamesAsync("instances", "mine"));
            Assert.Equal(["default", "mine"], (await lxd.NamesAsync("projects")).Order());
            Assert.Equal(["default"], await lxd.NamesAsync("storage-pools"));
        }
        finally
        {
            await HostProbe.CliAsync(State, null, "down", name);
        }
    }

    [LxdFact]
    public async Task A_lab_whose_state_was_lost_is_found_by_clean_and_removed_by_clean_force()
    {
        var name = TestLab.Name("lxdl");
        await using var lxd = await PrivateLxd.StartAsync();
        var file = Path.Combine(_files.Directory, "lab.yaml");
        _files.Write($$"""
            lab: {{name}}
            engine: lxd
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.248.0.0/24, host: 10.248.0.1, dhcp: true }
            machines:
              solo:
                image: base
                networks: { lan: { dhcp: true } }
                stages:
                  - name: slow
                    timeout: 2s
                    run: sleep 100
            """);
        // The daemon is found as the lxc client finds it: through LXD_DIR.
        Task<(int Code, string Output)> Cli(params string[] arguments) => HostProbe.CliWithAsync(State, ("LXD_DIR", lxd.Directory), arguments);
        try
        {
            // A stage past its timeout is killed inside the instance, not only its `lxc exec` on the host.
            var up = await Cli("up", file);
            Has("stage timed out", up.Output);
            var sleeping = await Cli("exec", $"{name}/solo", "--", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '");
            Assert.True(sleeping.Code == 0, sleeping.Output);
            Assert.DoesNotContain("sleep 100", sleeping.Output);
            File.Delete(Path.Combine(State, "labs", name, "state.json"));

            var clean = await Cli("clean");
            Has($"LXD project spawnlab-{name} was made for lab {name}, and no state records it", clean.Output);
            var force = await Cli("clean", "--force", name);
            Assert.True(force.Code == 0, force.Output);
            Has($"LXD instance solo", force.Output);

            Assert.Equal(["default"], await lxd.NamesAsync("projects"));
            Assert.Empty(await lxd.NamesAsync("storage-pools"));
            Assert.Empty(await lxd.ManagedNetworksAsync());
            Assert.All(lxd.Processes(), p => Assert.StartsWith("lxd ", p));
        }
        finally
        {
            await Cli("down", name);
        }
    }

    [LxdFact]
    public async Task On_a_three_member_cluster_machines_are_spread_over_members_and_reach_each_other()
    {
        var name = TestLab.Name("lxdk");
        await using var cluster = await LxdCluster.StartAsync();
        Assert.Equal(3, (await cluster.LxcAsync("cluster", "list", "--format", "csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains("ONLINE", StringComparison.Ordinal)));
        var file = Path.Combine(_files.Directory, "lab.yaml");
        _files.Write($$"""
            lab: {{name}}
            engine: lxd
            lxd: { remote: {{cluster.Socket}} }
            {{TestLab.Image}}
            networks:
              seg: { subnet: 10.249.0.0/24 }
            machines:
              a:
                image: base
                networks: { seg: { address: 10.249.0.10/24 } }
              b:
                image: base
                networks: { seg: { address: 10.249.0.20/24 } }
                stages:
                  - name: reach
                    checks:
                      - ping: 10.249.0.10
            """);
        try
        {
            var up = await Cli("up", file);
            Has("1 passed, 0 failed", up);
            // Spread in the lab file's order: a on m1, b on m2; the ping crossed members over the network's VXLAN.
            var placed = (await cluster.LxcAsync("list", "--project", $"spawnlab-{name}", "--format", "csv", "-c", "nL")).Trim().Split('\n').Order();
            Assert.Equal(["a,m1", "b,m2"], placed);
            Assert.Contains("bytes from 10.249.0.20", await Cli("exec", $"{name}/a", "--", "ping", "-c", "1", "-W", "5", "10.249.0.20"));
            await Cli("down", name);
            Assert.Equal("", (await cluster.LxcAsync("list", "--all-projects", "--format", "csv")).Trim());
            Assert.DoesNotContain("slx", await cluster.LxcAsync("network", "list", "--format", "csv"));
            Assert.All(cluster.Processes(), p => Assert.StartsWith("lxd ", p));
        }
        finally
        {
            await HostProbe.CliAsync(State, null, "down", name);
        }
    }

    [LxdFact]
    public async Task A_daemon_is_reached_over_HTTPS_as_the_lxc_remote_the_lab_names()
    {
        var name = TestLab.Name("lxdr");
        await using var lxd = await PrivateLxd.StartAsync();
        var (remote, client) = await lxd.ServeHttpsAsync();
        var file = Path.Combine(_files.Directory, "lab.yaml");
        _files.Write($$"""
            lab: {{name}}
            engine: lxd
            lxd: { remote: {{remote}} }
            {{TestLab.Image}}
            machines:
              solo:
                image: base
                stages:
                  - name: one
                    run: echo over-https > /one
                    checks:
                      - file: /one
                        contains: over-https
            """);
        // Found as the lxc client finds its remotes: LXD_CONF; nothing names the daemon's socket.
        Task<(int Code, string Output)> Cli(params string[] arguments) => HostProbe.CliWithAsync(State, ("LXD_CONF", client), arguments);
        try
        {
            var up = await Cli("up", file);
            Assert.True(up.Code == 0, up.Output);
            Has("1 passed, 0 failed", up.Output);
            Assert.Equal(["solo"], await lxd.NamesAsync("instances", $"spawnlab-{name}"));
            var exec = await Cli("exec", $"{name}/solo", "--", "cat", "/one");
            Assert.Equal((0, "over-https"), (exec.Code, exec.Output.Trim()));
            Has("running", (await Cli("ls", name)).Output);
            var down = await Cli("down", name);
            Assert.True(down.Code == 0, down.Output);
            Assert.Equal(["default"], await lxd.NamesAsync("projects"));
        }
        finally
        {
            await Cli("down", name);
        }
    }

    [LxdFact]
    public async Task The_Ansible_example_comes_up_on_LXD_with_no_change_but_its_engine()
    {
        var name = TestLab.Name("lxda");
        await using var lxd = await PrivateLxd.StartAsync();
        var directory = AppContext.BaseDirectory;
        while (!System.IO.Directory.Exists(Path.Combine(directory, "examples")))
            directory = Path.GetDirectoryName(directory)!;
        var example = Path.Combine(directory, "examples", "ansible");
        foreach (var source in System.IO.Directory.EnumerateFiles(example, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(_files.Directory, Path.GetRelativePath(example, source));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
        }
        var file = Path.Combine(_files.Directory, "lab.yaml");
        // Its own name and subnets, so that it can run beside the example on this host; nothing else changes.
        File.WriteAllText(file, File.ReadAllText(file)
            .Replace("lab: ansible-demo", $"lab: {name}\nengine: lxd\nlxd: {{ remote: {lxd.Socket} }}", StringComparison.Ordinal)
            .Replace("10.232.", "10.238.", StringComparison.Ordinal));
        try
        {
            // A gateway that routes and serves the users' network DHCP and DNS, a web server as a privileged
            // container, a client leased by the gateway: each configured by its playbook through Spawnlab's connection.
            var up = await Cli("up", file);
            Has("7 passed, 0 failed", up);
            Assert.Matches(@"inet 10\.238\.1\.\d+/24", await Cli("exec", $"{name}/client", "--", "ip", "-4", "-o", "addr", "show", "dev", "users"));
            Has("Welcome to the Contest", await Cli("exec", $"{name}/client", "--", "curl", "-s", "http://web.demo.test/"));
            await Cli("down", name);
            Assert.Equal(["default"], await lxd.NamesAsync("projects"));
        }
        finally
        {
            await HostProbe.CliAsync(State, null, "down", name);
        }
    }
}

/// <summary>A host test that needs LXD (lxd and lxd-client, which scripts/install-deps installs).</summary>
public sealed class LxdFactAttribute : FactAttribute
{
    public LxdFactAttribute() =>
        Skip = new HostFactAttribute().Skip ?? (PrivateLxd.Installed ? null : "needs lxd and lxd-client (run .ci/run or scripts/install-deps)");
}
