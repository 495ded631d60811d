using Spawnlab.Pool;

namespace Spawnlab.HostTests.Hostile;

/// <summary>A state file deleted or broken: the lab is refused clearly, left alone by clean, and removed by clean --force.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class LostStateSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    [HostFact]
    public async Task A_lab_whose_state_file_is_gone_is_refused_with_a_way_out_left_running_by_clean_and_removed_by_clean_force()
    {
        var name = TestLab.Name("lost");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.238.1.0/24, host: 10.238.1.1, dhcp: true }
            machines:
              m:
                image: base
                networks:
                  lan: { address: 10.238.1.10/24 }
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var machine = state.Machines["m"];
            File.Delete(Path.Combine(controller.Store.LabDirectory(name), "state.json"));

            var refused = await Assert.ThrowsAsync<SpawnlabException>(() => controller.UpAsync(lab, CancellationToken.None));
            Assert.Contains($"`spawnlab clean --force {name}` removes what is left of it", refused.Message, StringComparison.Ordinal);
            Assert.Null(controller.Store.Load(name));

            // clean does not know the lab any more: it touches nothing of it, and the machine runs on.
            await controller.CleanAsync(CancellationToken.None);
            Assert.True(Real.Processes.IsAlive(machine.Process!));
            Assert.True(Directory.Exists(Path.Combine(machine.Root, "etc")));

            var removed = await controller.ForceCleanAsync(name, CancellationToken.None);

            Assert.Contains($"lab {name}: root {machine.Root}", removed);
            Assert.Contains(removed, r => r.StartsWith($"lab {name}: bridge ", StringComparison.Ordinal));
            Assert.False(Real.Processes.IsAlive(machine.Process!));
            Assert.DoesNotContain(HostProbe.ProcessesNamed("dnsmasq"), p => p.CommandLine.Contains($"/labs/{name}/", StringComparison.Ordinal));
            Assert.Empty(await HostProbe.LeftoversAsync(name, ["lan"], ["m"], host.PoolRoot()));
            Assert.False(Directory.Exists(controller.Store.LabDirectory(name)));
        }
        finally
        {
            await controller.ForceCleanAsync(name, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task A_truncated_state_file_affects_its_own_lab_only_and_clean_force_removes_that_lab()
    {
        var (broken, fine) = (TestLab.Name("brk"), TestLab.Name("fin"));
        var brokenLab = _files.Write($"lab: {broken}\n{TestLab.Image}\nmachines:\n  m:\n    image: base\n", "broken.yaml");
        var fineLab = _files.Write($"lab: {fine}\n{TestLab.Image}\nmachines:\n  m:\n    image: base\n", "fine.yaml");
        var controller = host.Controller(DriverChoice.Btrfs);
        var stateDirectory = host.Options(DriverChoice.Btrfs).StateDirectory;
        try
        {
            var brokenState = await controller.UpCleanlyAsync(brokenLab);
            await controller.UpCleanlyAsync(fineLab);
            var stateFile = Path.Combine(controller.Store.LabDirectory(broken), "state.json");
            var text = await File.ReadAllTextAsync(stateFile);
            await File.WriteAllTextAsync(stateFile, text[..(text.Length / 2)]);

            var listing = await HostProbe.CliAsync(stateDirectory, null, "ls");
            Assert.Equal(0, listing.ExitCode);
            Assert.Contains(fine, listing.Stdout, StringComparison.Ordinal);
            Assert.Contains($"lab {broken}: state file", listing.Stderr, StringComparison.Ordinal);
            Assert.Contains($"`spawnlab clean --force {broken}`", listing.Stderr, StringComparison.Ordinal);
            var clean = await HostProbe.CliAsync(stateDirectory, null, "clean");
            Assert.Equal(1, clean.ExitCode);
            Assert.Contains($"lab {broken}: state file", clean.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", clean.Stderr, StringComparison.Ordinal);
            await controller.DownAsync(fine, purgeImages: false, CancellationToken.None);
            Assert.True(Real.Processes.IsAlive(brokenState.Machines["m"].Process!));

            var forced = await HostProbe.CliAsync(stateDirectory, null, "clean", "--force", broken);

            Assert.Equal(0, forced.ExitCode);
            Assert.False(Real.Processes.IsAlive(brokenState.Machines["m"].Process!));
            Assert.Empty(await HostProbe.LeftoversAsync(broken, [], ["m"], host.PoolRoot()));
            Assert.Empty(controller.Store.Unreadable());
        }
        finally
        {
            await controller.ForceCleanAsync(broken, CancellationToken.None);
            await controller.ForceCleanAsync(fine, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task The_root_a_killed_restore_set_aside_goes_at_the_next_restore_not_at_the_next_clean()
    {
        var name = TestLab.Name("old");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              m:
                image: base
                stages:
                  - name: s1
                    run: echo one > /one
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            // What a restore killed between setting the live root aside and deleting it leaves: a recorded .old- root.
            var aside = state.Machines["m"].Root + ".old-deadbeef";
            await HostProbe.RunAsync("btrfs", "subvolume", "snapshot", state.Machines["m"].Root, aside);
            var stateFile = Path.Combine(controller.Store.LabDirectory(name), "state.json");
            var json = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(stateFile))!;
            json["objects"]!.AsArray().Add(new System.Text.Json.Nodes.JsonObject { ["kind"] = "root", ["name"] = aside });
            await File.WriteAllTextAsync(stateFile, json.ToJsonString());

            await controller.RestoreAsync($"{name}/m", "s1", CancellationToken.None);

            Assert.False(Directory.Exists(aside));
            Assert.DoesNotContain(controller.Store.Load(name)!.Objects, o => o.Name.Contains(".old-", StringComparison.Ordinal));
            Assert.Equal("one\n", await controller.InsideAsync(name, "m", "cat", "/one"));
        }
        finally
        {
            await controller.ForceCleanAsync(name, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task Down_removes_all_it_can_names_what_it_could_not_and_a_second_down_finishes_the_job()
    {
        var name = TestLab.Name("part");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.238.2.0/24, host: 10.238.2.1 }
            machines:
              stuck:
                image: base
                networks:
                  lan: { address: 10.238.2.10/24 }
              free:
                image: base
                networks:
                  lan: { address: 10.238.2.11/24 }
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        var state = await controller.UpCleanlyAsync(lab);
        var stuck = state.Machines["stuck"].Root;
        try
        {
            // Something down cannot remove: an immutable root.
            await HostProbe.RunAsync("chattr", "+i", stuck);

            var error = await Assert.ThrowsAsync<SpawnlabException>(() => controller.DownAsync(name, purgeImages: false, CancellationToken.None));

            Assert.StartsWith($"down left 1 thing of lab {name}, still recorded (run `spawnlab down {name}` again once fixed):", error.Message, StringComparison.Ordinal);
            Assert.Contains($"root {stuck}: ", error.Message, StringComparison.Ordinal);
            var left = controller.Store.Load(name)!;
            Assert.Equal([new Spawnlab.State.HostObject(Spawnlab.State.HostObjectKind.Root, stuck)], left.Objects);
            Assert.False(Directory.Exists(state.Machines["free"].Root));
            Assert.False(await HostProbe.LinkExistsAsync(Spawnlab.Networks.HostNames.Bridge(name, "lan")));
            Assert.False(Real.Processes.IsAlive(state.Machines["stuck"].Process!));

            await HostProbe.RunAsync("chattr", "-i", stuck);
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);

            Assert.Null(controller.Store.Load(name));
            Assert.Empty(await HostProbe.LeftoversAsync(name, ["lan"], ["stuck", "free"], host.PoolRoot()));
        }
        finally
        {
            await HostProbe.RunAsync("chattr", "-i", stuck);
            await controller.ForceCleanAsync(name, CancellationToken.None);
        }
    }
}
