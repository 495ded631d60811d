using Spawnlab.Host;
using Spawnlab.Pool;

namespace Spawnlab.HostTests.Hostile;

/// <summary>Code inside a machine, root of its user namespace and nothing more, attacks the host through Spawnlab.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class HostileMachineSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    [HostFact]
    public async Task Subvolumes_links_and_forged_names_that_a_machine_plants_in_its_root_never_turn_down_against_the_host()
    {
        var name = TestLab.Name("hos");
        var target = Path.Combine(_files.Directory, "host-folder");
        var precious = Path.Combine(target, "victim", "keep.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(precious)!);
        await File.WriteAllTextAsync(precious, "precious");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Hostile", "attack.pl"), Path.Combine(_files.Directory, "attack.pl"));
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              m:
                image: base
                stages:
                  - name: plant
                    files: { /attack.pl: ./attack.pl }
                    run: perl /attack.pl {{name}} {{target}}
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        var root = Path.Combine(host.PoolRoot(), "labs", name, "machines", "m");
        try
        {
            await controller.UpCleanlyAsync(lab);
            // At last the machine makes its own root read-only, with the subvolumes it made inside.
            await controller.InsideAsync(name, "m", "perl", "-e", "sysopen(my $f, '/', 0x10000) or die $!; my $flags = pack('Q', 2); ioctl($f, 0x4008941A, $flags) or die $!");

            // What was planted is real: a listing line that names l/victim, which leads to the host's folder...
            var listing = await HostProbe.RunAsync("btrfs", "subvolume", "list", "-o", root);
            Assert.Contains($"\nID 1 gen 1 top level 5 path labs/{name}/machines/m/l/victim", listing, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(root, "l", "victim", "keep.txt")));
            // ...and read-only subvolumes, one holding another.
            Assert.Contains("ro=true", await HostProbe.RunAsync("btrfs", "property", "get", "-ts", root, "ro"), StringComparison.Ordinal);
            Assert.Contains("ro=true", await HostProbe.RunAsync("btrfs", "property", "get", "-ts", Path.Combine(root, "ro"), "ro"), StringComparison.Ordinal);

            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);

            Assert.Equal("precious", await File.ReadAllTextAsync(precious));
            Assert.Null(controller.Store.Load(name));
            Assert.Empty(await HostProbe.LeftoversAsync(name, [], ["m"], host.PoolRoot()));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task A_machine_whose_nspawn_was_killed_alone_is_seen_and_killed_through_its_cgroups_also_without_a_user_namespace()
    {
        var name = TestLab.Name("orp");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              real:
                image: base
                private_users: false
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var machine = state.Machines["real"];
            Assert.NotEmpty(machine.Cgroups);
            var first = Real.Processes.Find(Real.LeaderOf(controller, state, machine))!;

            // nspawn killed alone: the machine's systemd lives on, reparented.
            Real.Processes.Signal(machine.Process!, Spawnlab.Host.HostProcess.SigKill);
            Assert.True(await Real.Processes.WaitForExitAsync(machine.Process!, TimeSpan.FromSeconds(10), CancellationToken.None));
            Assert.True(Real.Processes.IsAlive(first));
            Assert.Equal(Spawnlab.Machines.MachineRunState.Orphaned, controller.Statuses([controller.Store.Load(name)!]).Single().State);

            // The next up kills it before it boots the machine again: one init on the root and the namespace.
            state = await controller.UpCleanlyAsync(lab);
            Assert.True(await Real.Processes.WaitForExitAsync(first, TimeSpan.FromSeconds(10), CancellationToken.None));
            var second = Real.Processes.Find(Real.LeaderOf(controller, state, state.Machines["real"]))!;
            Assert.Equal(Spawnlab.Machines.MachineRunState.Running, controller.Statuses([state]).Single().State);

            // And down kills what runs without its nspawn.
            Real.Processes.Signal(state.Machines["real"].Process!, Spawnlab.Host.HostProcess.SigKill);
            Assert.True(await Real.Processes.WaitForExitAsync(state.Machines["real"].Process!, TimeSpan.FromSeconds(10), CancellationToken.None));
            Assert.True(Real.Processes.IsAlive(second));
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);

            Assert.True(await Real.Processes.WaitForExitAsync(second, TimeSpan.FromSeconds(10), CancellationToken.None));
            Assert.Empty(await HostProbe.LeftoversAsync(name, [], ["real"], host.PoolRoot()));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task A_machine_that_floods_its_console_and_a_stage_that_floods_its_log_fill_no_more_than_the_log_limit()
    {
        const long limit = 1_000_000;
        const long slack = 4096; // the lines Spawnlab itself adds: the boot's command line, the stage's steps
        var name = TestLab.Name("fld");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              m:
                image: base
                stages:
                  - name: flood
                    run: |
                      head -c 3000000 /dev/zero | tr '\0' s
                      echo; echo stage-end
                      setsid sh -c 'while :; do echo console flood console flood console flood; done > /dev/console 2>&1' </dev/null >/dev/null 2>&1 &
            """);
        var options = host.Options(DriverChoice.Btrfs);
        var controller = host.Controller(DriverChoice.Btrfs);
        var previous = Environment.GetEnvironmentVariable("SPAWNLAB_LOG_LIMIT");
        Environment.SetEnvironmentVariable("SPAWNLAB_LOG_LIMIT", limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var bootLog = state.Machines["m"].LogFile;
            var stageLog = controller.StageLog(name, "m", 0, "flood");

            // The machine goes on flooding after up returned: its log is cut again and again, and stays within the limit.
            var seen = new HashSet<string>();
            for (var i = 0; i < 3; i++)
            {
                await Task.Delay(1000);
                Assert.True(Spawnlab.Host.CappedLog.WasCut(bootLog));
                // Both halves are always there once the log was cut: each is replaced by a rename.
                Assert.InRange(new FileInfo(bootLog).Length + new FileInfo(bootLog + ".1").Length, limit / 2, limit + slack);
                seen.Add(await File.ReadAllTextAsync(bootLog + ".1"));
            }
            Assert.True(seen.Count > 1, "the boot log was not cut again while the machine flooded its console");
            Assert.Contains("console flood", Spawnlab.Host.CappedLog.Read(bootLog), StringComparison.Ordinal);
            Assert.True(Spawnlab.Host.CappedLog.WasCut(stageLog));
            var stage = Spawnlab.Host.CappedLog.Read(stageLog);
            Assert.InRange(stage.Length, limit / 2, limit + slack);
            Assert.Contains("stage-end", stage, StringComparison.Ordinal);
            var logs = await HostProbe.CliAsync(options.StateDirectory, null, "logs", $"{name}/m");
            Assert.Contains($"--- {bootLog} was cut", logs.Stdout, StringComparison.Ordinal);
            Assert.Contains($"--- {stageLog} was cut", logs.Stdout, StringComparison.Ordinal);

            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);

            Assert.Empty(await HostProbe.LeftoversAsync(name, [], ["m"], host.PoolRoot()));
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (Real.Processes.Naming(Path.GetDirectoryName(bootLog)!).Count > 0 && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            Assert.Empty(Real.Processes.Naming(Path.GetDirectoryName(bootLog)!));
        }
        finally
        {
            Environment.SetEnvironmentVariable("SPAWNLAB_LOG_LIMIT", previous);
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task A_host_script_never_follows_a_link_the_machine_planted_in_its_root()
    {
        var name = TestLab.Name("lnk");
        var target = Directory.CreateDirectory(Path.Combine(_files.Directory, "host-folder")).FullName;
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "payload"), "from the lab");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              m:
                image: base
                stages:
                  - name: plant
                    run: ln -s {{target}} /etc/evil
                  - name: deliver
                    host: |
                      cp payload "$ROOT/etc/deliver-ok"
                      cp payload "$ROOT/etc/evil/planted"
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Spawnlab.Lifecycle.UpOptions(), CancellationToken.None);

            Assert.Contains(result.Failures, f => f.Contains("host script", StringComparison.Ordinal));
            Assert.Empty(Directory.EnumerateFileSystemEntries(target));
            Assert.Equal("from the lab", await controller.InsideAsync(name, "m", "cat", "/etc/deliver-ok"));
            Assert.Contains("Too many levels of symbolic links", await File.ReadAllTextAsync(controller.StageLog(name, "m", 1, "deliver")), StringComparison.Ordinal);
            // The script's mount stayed in its own namespace.
            Assert.Empty(HostProbe.MountsUnder(Path.Combine(host.PoolRoot(), "labs", name)));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task A_stage_that_never_ends_fails_at_its_timeout_and_what_it_ran_is_killed()
    {
        var name = TestLab.Name("tmo");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              m:
                image: base
                stages:
                  - name: forever
                    timeout: 3s
                    run: echo started; sleep 100000
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Spawnlab.Lifecycle.UpOptions(), CancellationToken.None);

            Assert.Contains(result.Failures, f => f.Contains("timeout 00:00:03", StringComparison.Ordinal));
            Assert.Equal(Spawnlab.State.StageStatus.Failed, result.State.Machines["m"].Stages.Single().Status);
            Assert.Contains("--- stage timed out after 00:00:03", await File.ReadAllTextAsync(controller.StageLog(name, "m", 0, "forever")), StringComparison.Ordinal);
            // The machine stays up for inspection, without the script.
            var processes = await controller.InsideAsync(name, "m", "sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '");
            Assert.Contains("systemd", processes, StringComparison.Ordinal);
            Assert.DoesNotContain("sleep 100000", processes, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
    }
}
