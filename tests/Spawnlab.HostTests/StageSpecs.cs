using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.HostTests;

/// <summary>
/// Each stage appends its name and a random id to /stages.log inside the machine: a stage that ran again writes a new
/// id, a stage restored from its snapshot keeps the id it wrote the first time.
/// </summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class StageSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private static string Stage(string name, string extra = "") => $"""
              - name: {name}
                run: |
                  echo "{name} $(cat /proc/sys/kernel/random/uuid)" >> /stages.log
                  echo {name} > /{name}.txt{extra}
        """;

    private LabDefinition FiveStages(string lab, string stage3Extra = "", string stage2File = "data.txt") => _files.Write($$"""
        lab: {{lab}}
        {{TestLab.Image}}
        machines:
          m:
            image: base
            stages:
        {{Stage("s1")}}
        {{Stage("s2")}}
                files: { /etc/data.txt: ./{{stage2File}} }
        {{Stage("s3", stage3Extra)}}
        {{Stage("s4")}}
        {{Stage("s5")}}
        """);

    private static async Task<Dictionary<string, string>> RunIdsAsync(LabController controller, string lab) =>
        (await controller.InsideAsync(lab, "m", "cat", "/stages.log"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => p[1]);

    private static string[] Reran(Dictionary<string, string> before, Dictionary<string, string> after) =>
        [.. after.Where(kv => !before.TryGetValue(kv.Key, out var id) || id != kv.Value).Select(kv => kv.Key).Order()];

    [HostFact]
    public async Task A_folder_that_files_copies_arrives_whole_and_owned_by_root()
    {
        var name = TestLab.Name("fold");
        Directory.CreateDirectory(Path.Combine(_files.Directory, "site", "sub"));
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "site", "index.html"), "<p>site</p>\n");
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "site", "sub", "a.txt"), "a\n");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            await controller.UpCleanlyAsync(_files.Write($$"""
                lab: {{name}}
                {{TestLab.Image}}
                machines:
                  m:
                    image: base
                    stages:
                      - name: copy
                        files: { /srv/site: ./site }
                """));

            Assert.Equal("<p>site</p>\na\n", await controller.InsideAsync(name, "m", "cat", "/srv/site/index.html", "/srv/site/sub/a.txt"));
            Assert.Equal("root:root\n", await controller.InsideAsync(name, "m", "stat", "-c", "%U:%G", "/srv/site/sub/a.txt"));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
    }

    [HostFact]
    public async Task Editing_stage_3_of_5_reruns_exactly_stages_3_4_and_5_and_an_unchanged_lab_reruns_nothing()
    {
        var name = TestLab.Name("edit");
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "data.txt"), "v1\n");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            await controller.UpCleanlyAsync(FiveStages(name));
            var first = await RunIdsAsync(controller, name);
            Assert.Equal(["s1", "s2", "s3", "s4", "s5"], first.Keys.Order());

            var unchanged = await controller.UpCleanlyAsync(FiveStages(name));
            Assert.Empty(Reran(first, await RunIdsAsync(controller, name)));
            Assert.All(unchanged.Machines["m"].Stages, s => Assert.Equal(StageStatus.Cached, s.Status));

            var edited = await controller.UpCleanlyAsync(FiveStages(name, stage3Extra: "\n          echo edited > /edited.txt"));
            var afterEdit = await RunIdsAsync(controller, name);
            Assert.Equal(["s3", "s4", "s5"], Reran(first, afterEdit));
            Assert.Equal("edited\n", await controller.InsideAsync(name, "m", "cat", "/edited.txt"));
            Assert.Equal([StageStatus.Cached, StageStatus.Cached, StageStatus.Ran, StageStatus.Ran, StageStatus.Ran], edited.Machines["m"].Stages.Select(s => s.Status));

            await File.WriteAllTextAsync(Path.Combine(_files.Directory, "data.txt"), "v2\n");
            await controller.UpCleanlyAsync(FiveStages(name, stage3Extra: "\n          echo edited > /edited.txt"));
            Assert.Equal(["s2", "s3", "s4", "s5"], Reran(afterEdit, await RunIdsAsync(controller, name)));
            Assert.Equal("v2\n", await controller.InsideAsync(name, "m", "cat", "/etc/data.txt"));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task A_failing_stage_leaves_no_snapshot_and_after_the_fix_up_resumes_from_the_stage_before_it()
    {
        var name = TestLab.Name("fail");
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "data.txt"), "v1\n");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var failing = await controller.UpAsync(FiveStages(name, stage3Extra: "\n          echo about to fail; exit 3"), new UpOptions(), CancellationToken.None);

            var failure = Assert.Single(failing.Failures);
            Assert.Contains("stage s3: run script (exit code 3) failed", failure, StringComparison.Ordinal);
            Assert.Contains("about to fail", failure, StringComparison.Ordinal);
            var machine = failing.State.Machines["m"];
            Assert.Equal([StageStatus.Ran, StageStatus.Ran, StageStatus.Failed, StageStatus.Pending, StageStatus.Pending], machine.Stages.Select(s => s.Status));
            Assert.Null(machine.RootAt);
            var snapshots = Directory.GetDirectories(Path.Combine(failing.State.PoolPath, "labs", name, "snapshots", "m")).Select(Path.GetFileName);
            // The fresh root's snapshot (under the machine's start key) and one per stage that passed; none for s3.
            Assert.Equal(machine.Stages.Take(2).Select(s => s.Key).Append(machine.BaseKey!).Order(), snapshots.Order());
            Assert.Equal(MachineRunState.Running, controller.Statuses([failing.State]).Single().State);
            var before = await RunIdsAsync(controller, name);

            await controller.UpCleanlyAsync(FiveStages(name));

            var after = await RunIdsAsync(controller, name);
            Assert.Equal(["s3", "s4", "s5"], Reran(before, after));
            Assert.Equal(before["s2"], after["s2"]);
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public Task Restore_to_stage_3_removes_what_stage_4_wrote_and_keeps_what_stage_3_wrote_on_btrfs() => RestoreScenario(DriverChoice.Btrfs, "rsb");

    [HostFact]
    public Task Restore_to_stage_3_removes_what_stage_4_wrote_and_keeps_what_stage_3_wrote_on_the_dir_driver() => RestoreScenario(DriverChoice.Dir, "rsd");

    private async Task RestoreScenario(DriverChoice driver, string stem)
    {
        var name = TestLab.Name(stem);
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "data.txt"), "v1\n");
        var controller = host.Controller(driver);
        try
        {
            await controller.UpCleanlyAsync(FiveStages(name));
            await controller.InsideAsync(name, "m", "sh", "-c", "echo later > /after-s5.txt");

            await controller.RestoreAsync($"{name}/m", "s3", CancellationToken.None);

            var files = await controller.InsideAsync(name, "m", "ls", "/");
            Assert.Contains("s3.txt", files, StringComparison.Ordinal);
            Assert.DoesNotContain("s4.txt", files, StringComparison.Ordinal);
            Assert.DoesNotContain("after-s5.txt", files, StringComparison.Ordinal);
            Assert.Equal(["s1", "s2", "s3"], (await RunIdsAsync(controller, name)).Keys.Order());
            var (_, machine) = controller.FindMachine($"{name}/m");
            Assert.Equal(machine.Stages[2].Key, machine.RootAt);
            Assert.Equal([StageStatus.Pending, StageStatus.Pending], machine.Stages.Skip(3).Select(s => s.Status));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, [], ["m"], Path.Combine(host.Options(driver).StateDirectory, "pool")));
    }

    [HostFact]
    public async Task A_SIGINT_during_a_stage_leaves_the_lab_resumable()
    {
        var name = TestLab.Name("int");
        var marker = Path.Combine(_files.Directory, "interrupted-once");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              m:
                image: base
                stages:
                  - name: first
                    run: echo first > /first.txt
                  - name: slow
                    host: |
                      if [ ! -e "{{marker}}" ]; then touch "{{marker}}"; sleep 120; fi
                    run: echo slow > /slow.txt
            """);
        var stateDirectory = host.Options(DriverChoice.Btrfs).StateDirectory;
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            using (var cli = RunningCli.Start(stateDirectory, "up", lab.FilePath))
            {
                await cli.WaitForAsync(() => File.Exists(marker), "the slow stage");
                Assert.Equal(0, Spawnlab.Host.Interop.Libc.Kill(cli.Process.Id, 2));
                Assert.True(cli.Process.WaitForExit(TimeSpan.FromSeconds(30)), "the CLI did not stop on SIGINT");
                Assert.Equal(130, cli.Process.ExitCode);
                var output = await cli.Process.StandardError.ReadToEndAsync();
                Assert.True(output.Contains("interrupted", StringComparison.Ordinal), output);
            }
            var interrupted = controller.Store.Load(name)!.Machines["m"];
            Assert.Equal([StageStatus.Ran, StageStatus.Failed], interrupted.Stages.Select(s => s.Status));
            Assert.Null(interrupted.RootAt);

            var resumed = await controller.UpCleanlyAsync(lab);

            Assert.Equal([StageStatus.Cached, StageStatus.Ran], resumed.Machines["m"].Stages.Select(s => s.Status));
            Assert.Equal("slow\n", await controller.InsideAsync(name, "m", "cat", "/slow.txt"));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }
}
