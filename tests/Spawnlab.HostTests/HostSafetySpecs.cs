using System.Text.Json.Nodes;
using Spawnlab.Doctor;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class HostSafetySpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private LabDefinition Small(string name, string stages = "") => _files.Write($$"""
        lab: {{name}}
        {{TestLab.Image}}
        networks:
          lan: { subnet: 10.235.{{name.Length}}.0/24, host: 10.235.{{name.Length}}.1, nat: true }
        machines:
          m:
            image: base
            networks:
              lan: { address: 10.235.{{name.Length}}.10/24 }
        {{stages}}
        """);

    [HostFact]
    public async Task Objects_with_names_close_to_spawnlab_s_survive_up_down_and_clean()
    {
        var name = TestLab.Name("near");
        var lab = Small(name);
        var pool = Path.Combine(host.Options(DriverChoice.Btrfs).StateDirectory, "pool");
        var controller = host.Controller(DriverChoice.Btrfs);
        // Names a careless sweep would take for a lab's: same prefixes, the same lab name.
        var bridge = HostNames.Bridge(name, "lan")[..^1] + "x";
        var table = HostNames.NftTable(name) + "_x";
        var subvolume = Path.Combine(pool, "labs", $"{name}-other");
        var mountPoint = Path.Combine(pool, "labs", $"{name}-mnt");
        var cgroup = Path.Combine(Real.Host.Cgroups.Hierarchies()[0], $"{Spawnlab.Host.MachineCgroup.Prefix}{name}-mx");
        try
        {
            Directory.CreateDirectory(cgroup);
            await HostProbe.RunAsync("ip", "link", "add", bridge, "type", "bridge");
            await HostProbe.RunAsync("nft", "add", "table", "ip", table);
            await controller.UpCleanlyAsync(lab); // makes the pool, so the neighbours can live in it
            await HostProbe.RunAsync("btrfs", "subvolume", "create", subvolume);
            Directory.CreateDirectory(mountPoint);
            await HostProbe.RunAsync("mount", "-t", "tmpfs", "none", mountPoint);

            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
            await controller.UpCleanlyAsync(lab);
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
            await controller.CleanAsync(CancellationToken.None);

            Assert.True(await HostProbe.LinkExistsAsync(bridge));
            Assert.True(await HostProbe.NftTableExistsAsync(table));
            Assert.True(Directory.Exists(subvolume));
            Assert.Contains(mountPoint, HostProbe.MountsUnder(mountPoint));
            Assert.True(Directory.Exists(cgroup));
        }
        finally
        {
            if (Directory.Exists(cgroup))
                Directory.Delete(cgroup);
            await HostProbe.RunAsync("umount", mountPoint);
            if (Directory.Exists(mountPoint))
                Directory.Delete(mountPoint);
            await HostProbe.RunAsync("btrfs", "subvolume", "delete", subvolume);
            await HostProbe.RunAsync("nft", "delete", "table", "ip", table);
            await HostProbe.RunAsync("ip", "link", "del", bridge);
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task Objects_a_tampered_state_names_but_the_lab_did_not_make_survive_down_which_removes_the_rest_and_names_them()
    {
        var name = TestLab.Name("evil");
        var controller = host.Controller(DriverChoice.Btrfs);
        var pool = Path.Combine(host.Options(DriverChoice.Btrfs).StateDirectory, "pool");
        var victim = Path.Combine(_files.Directory, "victim");
        Directory.CreateDirectory(Path.Combine(victim, "inner"));
        await File.WriteAllTextAsync(Path.Combine(victim, "inner", "keep.txt"), "precious");
        var link = Path.Combine(pool, "labs", $"{name}-link");
        var hierarchy = Real.Host.Cgroups.Hierarchies()[0];
        var foreignCgroup = Path.Combine(hierarchy, $"precious-{name}");
        var lookalikeCgroup = Path.Combine(hierarchy, $"spawnlab-{name}-other");
        // A bridge named as the lab would name a network 'wan' (which the tampered state adds) but with a MAC of its own,
        // another lab's table, a namespace named like the lab's, a process of the host.
        var bridge = HostNames.Bridge(name, "wan");
        var table = HostNames.NftTable(name + "x");
        var netns = HostNames.Namespace(name, "ghost");
        using var sleeper = System.Diagnostics.Process.Start("sleep", "600");
        var sleeperProcess = Real.Processes.Find(sleeper.Id)!;
        try
        {
            Directory.CreateDirectory(foreignCgroup);
            Directory.CreateDirectory(lookalikeCgroup);
            await HostProbe.RunAsync("ip", "link", "add", bridge, "address", "02:00:00:00:00:01", "type", "bridge");
            await HostProbe.RunAsync("nft", "add", "table", "ip", table);
            await HostProbe.RunAsync("ip", "netns", "add", netns);
            await controller.UpCleanlyAsync(Small(name));
            File.CreateSymbolicLink(link, victim);
            var stateFile = Path.Combine(controller.Store.LabDirectory(name), "state.json");
            var json = JsonNode.Parse(await File.ReadAllTextAsync(stateFile))!;
            var objects = json["objects"]!.AsArray();
            foreach (var (kind, target) in new[]
            {
                ("root", "/"),
                ("root", victim),
                ("root", $"{pool}/../../../etc"),
                ("root", Path.Combine(link, "inner")),
                ("cgroup", hierarchy),
                ("cgroup", foreignCgroup),
                ("cgroup", lookalikeCgroup),
                ("cgroup", Path.Combine(hierarchy, $"spawnlab-{name}-m", "..")),
                ("bridge", bridge),
                ("bridge", "lo"),
                ("nft-table", table),
                ("network-namespace", netns),
            })
            {
                objects.Add(new JsonObject { ["kind"] = kind, ["name"] = target });
            }
            objects.Add(new JsonObject { ["kind"] = "process", ["name"] = sleeper.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), ["startTicks"] = sleeperProcess.StartTicks });
            json["networks"]!["wan"] = json["networks"]!["lan"]!.DeepClone();
            await File.WriteAllTextAsync(stateFile, json.ToJsonString());

            var error = await Assert.ThrowsAsync<SpawnlabException>(() => controller.DownAsync(name, purgeImages: false, CancellationToken.None));

            Assert.StartsWith($"lab {name} is down, but its state named objects it did not make:", error.Message, StringComparison.Ordinal);
            foreach (var refusal in new[]
            {
                "root /: it is not inside the pool",
                $"root {victim}: it is not inside the pool",
                $"root {Path.Combine(link, "inner")}: {link} on the way is a symbolic link",
                $"cgroup {hierarchy}: it is not the cgroup of a machine of lab {name}",
                $"cgroup {foreignCgroup}: it is not the cgroup",
                $"cgroup {lookalikeCgroup}: it is not the cgroup",
                $"bridge {bridge}: its MAC 02:00:00:00:00:01 is not the one Spawnlab gives it",
                $"bridge lo: it is not the bridge of a network of lab {name}",
                $"nftables table {table}: lab {name}'s table is {HostNames.NftTable(name)}",
                $"network namespace {netns}: it is not the network namespace of a machine of lab {name}",
                $"process {sleeper.Id}: pid {sleeper.Id} runs `sleep 600…`, not a machine or the dnsmasq of lab {name}",
            })
            {
                Assert.Contains(refusal, error.Message, StringComparison.Ordinal);
            }
            Assert.Equal("precious", await File.ReadAllTextAsync(Path.Combine(victim, "inner", "keep.txt")));
            Assert.True(Directory.Exists("/etc/apt"));
            Assert.True(Directory.Exists(foreignCgroup) && Directory.Exists(lookalikeCgroup));
            Assert.True(await HostProbe.LinkExistsAsync(bridge));
            Assert.True(await HostProbe.NftTableExistsAsync(table));
            Assert.Contains(netns, await HostProbe.RunAsync("ip", "netns", "list"), StringComparison.Ordinal);
            Assert.True(Real.Processes.IsAlive(sleeperProcess));
            // What was the lab's is gone, and so is its record.
            Assert.Null(controller.Store.Load(name));
            Assert.Empty(await HostProbe.LeftoversAsync(name, ["lan"], ["m"], pool));
        }
        finally
        {
            sleeper.Kill();
            if (File.Exists(link) || Directory.Exists(link))
                File.Delete(link);
            Directory.Delete(foreignCgroup);
            Directory.Delete(lookalikeCgroup);
            await HostProbe.RunAsync("ip", "link", "del", bridge);
            await HostProbe.RunAsync("nft", "delete", "table", "ip", table);
            await HostProbe.RunAsync("ip", "netns", "del", netns);
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task A_second_command_that_changes_a_lab_fails_at_once_with_no_wait_while_reading_commands_work()
    {
        var name = TestLab.Name("lck");
        var options = host.Options(DriverChoice.Btrfs);
        using (await LabLock.AcquireAsync(options.StateDirectory, name, wait: false, _ => { }, CancellationToken.None))
        {
            var busy = await HostProbe.CliAsync(options.StateDirectory, null, "--no-wait", "up", Small(name).FilePath);
            Assert.Equal(1, busy.ExitCode);
            Assert.Contains($"lab {name} is busy", busy.Stderr, StringComparison.Ordinal);
            var listing = await HostProbe.CliAsync(options.StateDirectory, null, "ls");
            Assert.Equal(0, listing.ExitCode);
        }
        Assert.Null(host.Controller(DriverChoice.Btrfs).Store.Load(name));
    }

    [HostFact]
    public async Task A_SIGKILL_during_a_stage_or_after_a_snapshot_leaves_a_lab_that_the_next_up_finishes_and_down_removes()
    {
        var name = TestLab.Name("kill");
        var marker = Path.Combine(_files.Directory, "stage-started");
        var stages = $"    stages:\n      - name: first\n        run: echo first > /first.txt\n      - name: slow\n        host: touch \"{marker}\"\n        run: sleep 30; echo slow > /slow.txt\n";
        var lab = Small(name, stages);
        var options = host.Options(DriverChoice.Btrfs);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            // During a stage.
            await RunningCli.KillWhenAsync(options.StateDirectory, () => File.Exists(marker), "the slow stage", "up", lab.FilePath);
            // A snapshot interrupted between its two steps leaves its temporary subvolume.
            var snapshots = Path.Combine(options.StateDirectory, "pool", "labs", name, "snapshots", "m");
            await HostProbe.RunAsync("btrfs", "subvolume", "snapshot", "-r", Path.Combine(options.StateDirectory, "pool", "labs", name, "machines", "m"), Path.Combine(snapshots, ".tmp-0123456789abcdef01234567"));

            var resumed = await controller.UpCleanlyAsync(Small(name, stages));

            Assert.Equal([StageStatus.Cached, StageStatus.Ran], resumed.Machines["m"].Stages.Select(s => s.Status));
            Assert.Equal("slow\n", await controller.InsideAsync(name, "m", "cat", "/slow.txt"));
            Assert.DoesNotContain(Directory.GetDirectories(snapshots), d => Path.GetFileName(d).StartsWith(".tmp-", StringComparison.Ordinal));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, Path.Combine(options.StateDirectory, "pool")));
    }

    [HostFact]
    public async Task A_SIGKILL_during_a_snapshot_leaves_no_snapshot_that_looks_good_and_the_next_up_finishes_and_down_removes()
    {
        var name = TestLab.Name("snap");
        var marker = Path.Combine(_files.Directory, "stage-started");
        // On the dir driver a snapshot copies the root: with 300 MB written by the stage, it takes long enough to be caught.
        var stages = $"    stages:\n      - name: big\n        host: touch \"{marker}\"\n        run: head -c 300M /dev/urandom > /big; echo big > /big.txt\n";
        var lab = Small(name, stages);
        var options = host.Options(DriverChoice.Dir);
        var controller = host.Controller(DriverChoice.Dir);
        var snapshots = Path.Combine(options.StateDirectory, "pool", "labs", name, "snapshots", "m");
        // The stage has started, so the snapshot of the fresh root is done: a temporary snapshot now is the stage's.
        bool Snapshotting() => File.Exists(marker) && Directory.Exists(snapshots) && Directory.EnumerateDirectories(snapshots, ".tmp-*").Any();
        try
        {
            await RunningCli.KillWhenAsync(options.StateDirectory, Snapshotting, "the snapshot after the stage", "up", lab.FilePath, "--driver=dir");
            // The orphan the next up has to deal with.
            Assert.NotEmpty(Real.Processes.Naming(snapshots));
            var killed = controller.Store.Load(name)!;
            Assert.NotEqual(StageStatus.Ran, killed.Machines["m"].Stages.Single().Status);
            Assert.DoesNotContain(Directory.GetDirectories(snapshots), d => Path.GetFileName(d) == killed.Machines["m"].Stages.Single().Key);

            var resumed = await controller.UpCleanlyAsync(Small(name, stages));

            Assert.Equal([StageStatus.Ran], resumed.Machines["m"].Stages.Select(s => s.Status));
            Assert.Equal("big\n", await controller.InsideAsync(name, "m", "cat", "/big.txt"));
            Assert.DoesNotContain(Directory.GetDirectories(snapshots), d => Path.GetFileName(d).StartsWith(".tmp-", StringComparison.Ordinal));
            Assert.Empty(Real.Processes.Naming(snapshots));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, Path.Combine(options.StateDirectory, "pool")));
    }

    [HostFact]
    public async Task A_SIGKILL_during_a_bootstrap_leaves_no_image_and_the_next_up_bootstraps_it_again()
    {
        var name = TestLab.Name("boot");
        var stateDirectory = Path.Combine("/var/lib", $"spawnlab-tests-kill{name}");
        var lab = _files.Write($$"""
            lab: {{name}}
            images:
              tiny:
                packages: []
            machines:
              m:
                image: tiny
            """);
        var controller = new LabController(Real.Host, new SpawnlabOptions(stateDirectory, DriverChoice.Dir), new TestProgress());
        try
        {
            var images = Path.Combine(stateDirectory, "pool", "images");
            using (var cli = RunningCli.Start(stateDirectory, "up", lab.FilePath, "--driver=dir"))
            {
                await cli.WaitForAsync(() => Directory.Exists(images) && Directory.EnumerateDirectories(images, ".tmp-*").Any(d => Directory.Exists(Path.Combine(d, "usr"))), "debootstrap extracting");
                cli.Process.Kill(entireProcessTree: true);
                await cli.Process.WaitForExitAsync();
            }
            await Task.Delay(500);
            Assert.DoesNotContain(Directory.GetDirectories(images), d => !Path.GetFileName(d).StartsWith(".tmp-", StringComparison.Ordinal));

            var state = await controller.UpCleanlyAsync(lab);

            Assert.Equal(MachineRunState.Running, controller.Statuses([state]).Single().State);
            Assert.Single(Directory.GetDirectories(images));
        }
        finally
        {
            if (controller.Store.Load(name) is not null)
                await controller.DownAsync(name, purgeImages: true, CancellationToken.None);
            await HostProbe.RunAsync("pkill", "-f", $"debootstrap.*{stateDirectory}");
            await HostProbe.RunAsync("rm", "-rf", "--one-file-system", stateDirectory);
        }
    }

    [HostFact]
    public async Task Doctor_reports_a_low_inotify_limit_and_a_FORWARD_DROP_policy_and_fix_repairs_them()
    {
        var limit = await File.ReadAllTextAsync("/proc/sys/fs/inotify/max_user_instances");
        var table = $"sltestfw{Random.Shared.Next(100, 999)}";
        var doctor = new HostDoctor(Real.Host, host.Options(DriverChoice.Btrfs).StateDirectory);
        try
        {
            await File.WriteAllTextAsync("/proc/sys/fs/inotify/max_user_instances", "128");
            await HostProbe.RunAsync("nft", "add", "table", "ip", table);
            await HostProbe.RunAsync("nft", "add chain ip " + table + " forwarding { type filter hook forward priority 0 ; policy drop ; }");

            var findings = await doctor.ExamineAsync(CancellationToken.None);

            var inotify = findings.Single(f => f.Kind == FindingKind.Inotify);
            Assert.Equal(Severity.Problem, inotify.Severity);
            Assert.Contains("about 16 booted machines come up", inotify.Detail, StringComparison.Ordinal);
            var forward = findings.Single(f => f.Kind == FindingKind.ForwardPolicy);
            Assert.Equal(Severity.Problem, forward.Severity);
            Assert.Contains($"ip {table} forwarding", forward.Detail, StringComparison.Ordinal);

            var changed = await doctor.FixAsync(findings, CancellationToken.None);

            Assert.Contains(changed, c => c.StartsWith("set fs.inotify.max_user_instances = 1024", StringComparison.Ordinal));
            Assert.Contains($"let lab bridges forward in ip {table} forwarding", changed);
            var after = await doctor.ExamineAsync(CancellationToken.None);
            Assert.Equal(Severity.Ok, after.Single(f => f.Kind == FindingKind.Inotify).Severity);
            Assert.Equal(Severity.Ok, after.Single(f => f.Kind == FindingKind.ForwardPolicy).Severity);
            Assert.Contains("iifname \"slb*\" accept", await HostProbe.RunAsync("nft", "list", "table", "ip", table), StringComparison.Ordinal);
        }
        finally
        {
            await HostProbe.RunAsync("nft", "delete", "table", "ip", table);
            await File.WriteAllTextAsync("/proc/sys/fs/inotify/max_user_instances", limit.Trim());
        }
    }
}
