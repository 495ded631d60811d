using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class DryRunSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>What a dry run must not change: interfaces, namespaces, tables, mounts, machines, and every file of the state directory (logs by name).</summary>
    private static async Task<string> HostPictureAsync(string stateDirectory) => string.Join("\n",
        await HostProbe.RunAsync("ip", "-br", "link"),
        await HostProbe.RunAsync("ip", "netns", "list"),
        await HostProbe.RunAsync("nft", "list", "tables"),
        string.Join(",", HostProbe.MountsUnder("/")),
        string.Join(",", HostProbe.ProcessesNamed("systemd-nspawn").Select(p => p.Pid)),
        string.Join(",", Directory.EnumerateFileSystemEntries(stateDirectory, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(Path.Combine(stateDirectory, "pool"), StringComparison.Ordinal))
            // A running machine writes its console to its boot log whenever it likes: logs count by name only.
            .Select(p => $"{p}:{(File.Exists(p) && !p.Contains($"{Path.DirectorySeparatorChar}logs{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? new FileInfo(p).LastWriteTimeUtc.Ticks : 0)}")),
        string.Join(",", Directory.Exists(Path.Combine(stateDirectory, "pool", "labs"))
            ? Directory.EnumerateFileSystemEntries(Path.Combine(stateDirectory, "pool", "labs"), "*", SearchOption.TopDirectoryOnly) : []));

    [HostFact]
    public async Task Up_dry_run_prints_what_up_then_does_and_changes_nothing_on_the_host()
    {
        var name = TestLab.Name("dry");
        string Lab(string second) => $$"""
            lab: {{name}}
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.239.1.0/24, host: 10.239.1.1 }
            machines:
              m:
                image: base
                networks:
                  lan: { address: 10.239.1.10/24 }
                stages:
                  - { name: one, run: echo 1 > /one }
                  - { name: two, run: {{second}} }
                  - { name: three, run: echo 3 > /three }
            """;
        var lab = _files.Write(Lab("echo 2 > /two"));
        var stateDirectory = host.Options(DriverChoice.Btrfs).StateDirectory;
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            await controller.UpCleanlyAsync(_files.Write($"lab: {name}x\n{TestLab.Image}\nmachines:\n  m:\n    image: base\n", "mount.yaml"));
            await controller.DownAsync($"{name}x", purgeImages: false, CancellationToken.None); // the pool is mounted, the image there

            var before = await HostPictureAsync(stateDirectory);
            var fresh = await HostProbe.CliAsync(stateDirectory, null, "up", "--dry-run", lab.FilePath);
            Assert.Equal(before, await HostPictureAsync(stateDirectory));
            Assert.Equal(0, fresh.ExitCode);
            Assert.Equal($"""
                up of lab {name} would (nothing was changed):
                  make network lan
                  machine m: clone its root from the image; run one, two, three

                """, fresh.Stdout);

            await controller.UpCleanlyAsync(lab);
            lab = _files.Write(Lab("echo edited > /two"));
            before = await HostPictureAsync(stateDirectory);
            var edited = await HostProbe.CliAsync(stateDirectory, null, "up", "--dry-run", lab.FilePath);
            Assert.Equal(before, await HostPictureAsync(stateDirectory));
            Assert.Equal($"""
                up of lab {name} would (nothing was changed):
                  machine m: restore its root to stage one; cached: one; run two, three

                """, edited.Stdout);

            // And up does that.
            var state = await controller.UpCleanlyAsync(lab);
            Assert.Equal([StageStatus.Cached, StageStatus.Ran, StageStatus.Ran], state.Machines["m"].Stages.Select(s => s.Status));
            Assert.Contains("machine m: keep its root; cached: one, two, three; run no stage", (await HostProbe.CliAsync(stateDirectory, null, "up", "--dry-run", lab.FilePath)).Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
            await controller.DownIfUpAsync($"{name}x");
        }
    }
}
