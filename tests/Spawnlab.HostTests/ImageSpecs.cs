using System.Text.Json.Nodes;
using Spawnlab.Checks;
using Spawnlab.Images;
using Spawnlab.Labs;
using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>
/// Images made every way for real: a tarball that `image export` wrote and that was made Arch-like (no Debian markers,
/// no apt, a single top folder), a command of the user's (and one that fails), a derived image two labs share, and a
/// root that cannot boot.
/// </summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class ImageSpecs(HostFixture host) : IAsyncLifetime
{
    private readonly TestLab _files = new();

    /// <summary>The images a test makes (NAME-KEY), removed with their logs whatever became of the test.</summary>
    private readonly List<string> _made = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var folder in _made)
        {
            if (Directory.Exists(Path.Combine(host.PoolRoot(), "images", folder)))
                await host.Controller(DriverChoice.Btrfs).RemoveImagesAsync(folder, CancellationToken.None);
            File.Delete(Path.Combine(host.PoolRoot(), "images", folder + ".log"));
        }
        _files.Dispose();
    }

    /// <summary>The folder of the lab's image img, to be removed at the end.</summary>
    private string Made(LabDefinition lab)
    {
        var folder = ImageKeys.FolderName(lab.Images["img"], lab.Images);
        _made.Add(folder);
        return folder;
    }

    private string StateDirectory => host.Options(DriverChoice.Btrfs).StateDirectory;

    /// <summary>The host tests' base image, made if it is not yet, and its folder name in the pool.</summary>
    private async Task<string> BaseImageAsync()
    {
        var lab = _files.Write($"lab: {TestLab.Name("img")}\n{TestLab.Image}\nmachines: {{}}\n", "base.yaml");
        var pool = await new PoolOpener(Real.Host, StateDirectory).OpenAsync(DriverChoice.Btrfs, CancellationToken.None);
        return Path.GetFileName(await new ImageStore(host.Shell, pool, new Progress<string>()).EnsureAsync(lab.Images["base"], lab.Images, CancellationToken.None));
    }

    private LabDefinition Lab(string name, string images, string machine = "m", string net = "10.238.0") => _files.Write($$"""
        lab: {{name}}
        images:
        {{images}}
        networks:
          lan: { subnet: {{net}}.0/24, host: {{net}}.1 }
        machines:
          {{machine}}:
            image: img
            networks: { lan: { address: {{net}}.10/24 } }
            stages:
              - name: one
                run: echo one > /one
                checks:
                  - command: cat /one
                    stdout: one
                  - ping: {{net}}.1
        """, $"{name}.yaml");

    [HostFact]
    public async Task An_exported_image_made_Arch_like_comes_back_as_a_tarball_image_whose_machines_run_stages_and_checks()
    {
        var name = TestLab.Name("tar");
        var base_ = await BaseImageAsync();
        var exported = Path.Combine(_files.Directory, "base.tar.zst");
        var export = await HostProbe.CliAsync(StateDirectory, null, "image", "export", base_, exported);
        Assert.True(export.ExitCode == 0, export.Stderr);
        Assert.Contains($"image {base_} written to {exported}", export.Stderr, StringComparison.Ordinal);

        // Arch-like: in a single top folder, without Debian's markers or apt, another os-release.
        var arch = Path.Combine(_files.Directory, "arch");
        await HostProbe.RunAsync("sh", "-ec", """
            mkdir -p "$1/root.x86_64" && tar -xf "$2" -C "$1/root.x86_64" --numeric-owner
            cd "$1/root.x86_64" && rm -f etc/debian_version usr/bin/apt usr/bin/apt-get && printf 'ID=arch\nNAME="Arch-like"\n' > etc/os-release
            tar -C "$1" --numeric-owner -caf "$1.tar.zst" root.x86_64 && rm -rf "$1"
            """, "sh", arch, exported);
        var lab = Lab(name, "  img: { bootstrap: tarball, tarball: ./arch.tar.zst }");
        var folder = Made(lab);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None);

            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.All(result.Checks, c => Assert.True(c.Outcome == CheckOutcome.Passed, $"{c.Name}: {c.Message}"));
            Assert.Equal("ID=arch", (await controller.InsideAsync(name, "m", "head", "-1", "/etc/os-release")).Trim());
            var ls = await HostProbe.CliAsync(StateDirectory, null, "image", "ls", "--json");
            var image = JsonNode.Parse(ls.Stdout)!.AsArray().Single(i => i!["path"]!.GetValue<string>() == result.State.Machines["m"].Image)!;
            Assert.Equal(("img", "tarball", Path.Combine(_files.Directory, "arch.tar.zst")), (image["name"]!.GetValue<string>(), image["bootstrap"]!.GetValue<string>(), image["source"]!.GetValue<string>()));
            Assert.Equal($"lab {name} (m)", image["usedBy"]![0]!.GetValue<string>());
            var refused = await HostProbe.CliAsync(StateDirectory, null, "image", "rm", Path.GetFileName(result.State.Machines["m"].Image));
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains($"is used by lab {name} (m)", refused.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
        var removed = await HostProbe.CliAsync(StateDirectory, null, "image", "rm", folder);
        Assert.True(removed.ExitCode == 0, removed.Stderr);
        Assert.False(Directory.Exists(Path.Combine(host.PoolRoot(), "images", folder)));
        Assert.False(File.Exists(Path.Combine(host.PoolRoot(), "images", folder + ".log")));
    }

    [HostFact]
    public async Task A_command_image_is_filled_by_the_user_s_command_and_one_that_fails_leaves_only_its_log()
    {
        var name = TestLab.Name("cmd");
        var base_ = Path.Combine(host.PoolRoot(), "images", await BaseImageAsync());
        File.WriteAllText(Path.Combine(_files.Directory, "make-root.sh"), $"""
            set -e
            cp -a --reflink=auto {base_}/. "$ROOT"
            echo "image $IMAGE made in $(pwd)" > "$ROOT/etc/made-by"
            echo "filled $ROOT"
            """);
        var lab = Lab(name, "  img: { bootstrap: command, command: sh ./make-root.sh, inputs: [ ./make-root.sh ] }");
        Made(lab);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None);

            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.Equal($"image img made in {_files.Directory}", (await controller.InsideAsync(name, "m", "cat", "/etc/made-by")).Trim());
            var log = ImageStore.LogOf(result.State.Machines["m"].Image);
            Assert.Contains("filled ", File.ReadAllText(log), StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }

        var broken = Lab(name, "  img: { bootstrap: command, command: 'echo half of it > \"$ROOT/half\"; echo no space left >&2; exit 3' }");
        var folder = Path.Combine(host.PoolRoot(), "images", Made(broken));
        var failure = await Assert.ThrowsAnyAsync<SpawnlabException>(() => controller.UpAsync(broken, new Lifecycle.UpOptions(), CancellationToken.None));
        await controller.DownIfUpAsync(name);
        Assert.Contains("image img: its command failed (exit code 3): no space left; the whole output is in " + folder + ".log", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(Path.Combine(host.PoolRoot(), "images"), "*" + Path.GetFileName(folder) + "*"), p => !p.EndsWith(".log", StringComparison.Ordinal));
    }

    [HostFact]
    public async Task A_derived_image_gets_its_packages_and_setup_once_and_two_labs_share_it()
    {
        await BaseImageAsync();
        var images = TestLab.Image["images:\n".Length..] + "\n  img: { from: base, packages: [tree], setup: ./web-setup.sh }";
        File.WriteAllText(Path.Combine(_files.Directory, "web-setup.sh"), "echo derived > /etc/derived\n");
        var (first, second) = (TestLab.Name("der"), TestLab.Name("dev"));
        var labs = new[] { Lab(first, images, "a", "10.238.1"), Lab(second, images, "b", "10.238.2") };
        var folder = Made(labs[0]);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var one = await controller.UpCleanlyAsync(labs[0]);
            var progress = new TestProgress();
            var two = await host.Controller(DriverChoice.Btrfs, progress).UpCleanlyAsync(labs[1]);

            Assert.Equal(one.Machines["a"].Image, two.Machines["b"].Image);
            Assert.DoesNotContain(progress.Lines, l => l.Contains("img", StringComparison.Ordinal) && l.Contains("install", StringComparison.Ordinal));
            Assert.Equal("derived", (await controller.InsideAsync(second, "b", "cat", "/etc/derived")).Trim());
            Assert.Contains("/usr/bin/tree", await controller.InsideAsync(second, "b", "sh", "-c", "command -v tree"), StringComparison.Ordinal);
            var ls = await HostProbe.CliAsync(StateDirectory, null, "image", "ls", "--json");
            var image = JsonNode.Parse(ls.Stdout)!.AsArray().Single(i => i!["path"]!.GetValue<string>() == one.Machines["a"].Image)!;
            Assert.Equal("from", image["bootstrap"]!.GetValue<string>());
            Assert.StartsWith("base-", image["parent"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal([$"lab {first} (a)", $"lab {second} (b)"], image["usedBy"]!.AsArray().Select(u => u!.GetValue<string>()).Order(StringComparer.Ordinal));
        }
        finally
        {
            await controller.DownIfUpAsync(first);
            await controller.DownIfUpAsync(second);
        }
        var removed = await HostProbe.CliAsync(StateDirectory, null, "image", "rm", folder);
        Assert.True(removed.ExitCode == 0, removed.Stderr);
    }

    [HostFact]
    public async Task A_root_without_systemd_is_refused_with_what_it_lacks_and_leaves_only_its_log()
    {
        var name = TestLab.Name("bad");
        await HostProbe.RunAsync("sh", "-ec", "mkdir -p \"$1/etc\" && echo ID=tiny > \"$1/etc/os-release\" && tar -C \"$1\" -cf \"$1.tar\" . && rm -rf \"$1\"", "sh", Path.Combine(_files.Directory, "tiny"));
        var lab = Lab(name, "  img: { bootstrap: tarball, tarball: ./tiny.tar }");
        var folder = Path.Combine(host.PoolRoot(), "images", Made(lab));
        var controller = host.Controller(DriverChoice.Btrfs);

        var failure = await Assert.ThrowsAnyAsync<SpawnlabException>(() => controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None));
        await controller.DownIfUpAsync(name);

        Assert.Equal("image img cannot boot as a machine: no systemd (/usr/lib/systemd/systemd): machines boot with systemd as their init; install systemd in the root", failure.Message);
        Assert.False(Directory.Exists(folder));
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(host.PoolRoot(), "images"), "*" + Path.GetFileName(folder) + "*"));
    }
}
