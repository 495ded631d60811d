using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class UserNamespaceSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>Two machines on a network, one in a user namespace (the default) and one opting out; a host folder bound into each.</summary>
    private LabDefinition Lab(string name, string shared) => _files.Write($$"""
        lab: {{name}}
        {{TestLab.Image}}
        networks:
          lan: { subnet: 10.236.{{name.Length}}.0/24, host: 10.236.{{name.Length}}.1 }
        machines:
          boxed:
            image: base
            forward: true
            networks:
              lan: { address: 10.236.{{name.Length}}.10/24 }
            binds: [ "./{{Path.GetFileName(shared)}}:/shared" ]
          real:
            image: base
            private_users: false
            networks:
              lan: { address: 10.236.{{name.Length}}.11/24 }
        """);

    private static string UidMap(int pid) => File.ReadAllText($"/proc/{pid}/uid_map").Trim();

    private static bool IsIdentity(string uidMap) =>
        uidMap.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["0", "0", "4294967295"];

    [HostFact]
    public async Task A_machine_runs_as_an_unprivileged_range_of_the_host_yet_its_root_manages_its_own_network_and_keeps_ownership_on_disk()
    {
        Assert.Null(Real.Host.UserNamespacesUnavailable);
        var name = TestLab.Name("uns");
        var shared = Path.Combine(_files.Directory, "shared");
        Directory.CreateDirectory(shared);
        await File.WriteAllTextAsync(Path.Combine(shared, "owned"), "by 1234\n");
        File.SetUnixFileMode(Path.Combine(shared, "owned"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await HostProbe.RunAsync("chown", "1234:1234", Path.Combine(shared, "owned"));
        var lab = Lab(name, shared);
        var controller = host.Controller(DriverChoice.Btrfs);
        var pool = Path.Combine(host.Options(DriverChoice.Btrfs).StateDirectory, "pool");
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var boxed = state.Machines["boxed"];
            var real = state.Machines["real"];
            Assert.True(boxed.PrivateUsers);
            Assert.False(real.PrivateUsers);
            Assert.Equal([true, false], controller.Statuses([state]).Select(m => m.PrivateUsers));

            // Seen from the host, the boxed machine's root is a high uid; the other machine's root is the host's.
            var boxedLeader = Real.LeaderOf(controller, state, boxed);
            var boxedMap = UidMap(boxedLeader).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("0", boxedMap[0]);
            Assert.True(long.Parse(boxedMap[1], System.Globalization.CultureInfo.InvariantCulture) >= 65536, $"uid_map: {string.Join(' ', boxedMap)}");
            Assert.Equal("65536", boxedMap[2]);
            Assert.True(IsIdentity(UidMap(Real.LeaderOf(controller, state, real))));
            Assert.NotEqual("0", (await File.ReadAllLinesAsync($"/proc/{boxedLeader}/status")).Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1]);

            // Inside, it is root, and root manages the machine's own network: an address, a low port, a raw ping.
            Assert.Equal("0\n", await controller.InsideAsync(name, "boxed", "id", "-u"));
            await controller.InsideAsync(name, "boxed", "ip", "addr", "add", "192.0.2.7/32", "dev", "lan");
            Assert.Contains("192.0.2.7", await controller.InsideAsync(name, "boxed", "ip", "-4", "addr", "show", "dev", "lan"), StringComparison.Ordinal);
            var listening = await controller.InsideAsync(name, "boxed", "sh", "-c", "nc -l -p 80 </dev/null >/dev/null & sleep 0.5; ss -Hltn 'sport = :80'; kill $!");
            Assert.Contains(":80", listening, StringComparison.Ordinal);
            await controller.InsideAsync(name, "boxed", "ping", "-c", "1", "-W", "2", $"10.236.{name.Length}.11");
            Assert.Equal("1\n", await controller.InsideAsync(name, "boxed", "cat", "/proc/sys/net/ipv4/ip_forward"));
            // What it may not do is the host's: it cannot load modules or reach the host's network settings.
            var hostSetting = await controller.InsideAsync(name, "boxed", "sh", "-c", "echo 1 > /proc/sys/kernel/sysrq 2>/dev/null && echo changed || echo refused");
            Assert.Equal("refused\n", hostSetting);
            // That holds for a machine without a user namespace too; making a device node tells the two apart.
            const string mknod = "mknod /tmp/loop b 7 0 2>/dev/null && echo made || echo refused";
            Assert.Equal("refused\n", await controller.InsideAsync(name, "boxed", "sh", "-c", mknod));
            Assert.Equal("made\n", await controller.InsideAsync(name, "real", "sh", "-c", mknod));

            // A file root writes inside is owned by root on disk, so snapshots do not depend on the range picked.
            await controller.InsideAsync(name, "boxed", "sh", "-c", "echo x > /root/written");
            var written = Path.Combine(boxed.Root, "root", "written");
            Assert.Equal("0", (await HostProbe.RunAsync("stat", "-c", "%u", written)).Trim());
            // A bound host folder shows its host owners inside.
            Assert.Equal("1234\n", await controller.InsideAsync(name, "boxed", "stat", "-c", "%u", "/shared/owned"));

            // Each machine has cgroups of its own, recorded, thawed; with or without a user namespace (no machined here).
            foreach (var machine in new[] { boxed, real })
            {
                Assert.NotEmpty(machine.Cgroups);
                Assert.All(machine.Cgroups, c => Assert.Contains(new HostObject(HostObjectKind.Cgroup, c), state.Objects));
                Assert.All(machine.Cgroups, c => Assert.True(Directory.Exists(c)));
                Assert.False(Real.Host.Cgroups.IsFrozen(machine.Cgroups));
            }

            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
            Assert.All(boxed.Cgroups.Concat(real.Cgroups), c => Assert.False(Directory.Exists(c), $"{c} is left"));
            Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, pool));
        }
        finally
        {
            if (controller.Store.Load(name) is not null)
                await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task A_machine_left_frozen_by_a_CLI_killed_before_its_wiring_is_started_again_by_the_next_up()
    {
        var name = TestLab.Name("frz");
        var shared = Path.Combine(_files.Directory, "shared");
        Directory.CreateDirectory(shared);
        var lab = Lab(name, shared);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var before = state.Machines["boxed"].Pid;
            // What a CLI killed between the start of nspawn and the wiring leaves: a machine frozen in its payload cgroup.
            await File.WriteAllTextAsync(Path.Combine(state.Machines["boxed"].Cgroups[0], "payload", "cgroup.freeze"), "1");

            state = await controller.UpCleanlyAsync(Lab(name, shared));

            Assert.NotEqual(before, state.Machines["boxed"].Pid);
            Assert.False(Real.Host.Cgroups.IsFrozen(state.Machines["boxed"].Cgroups));
            await controller.InsideAsync(name, "boxed", "ping", "-c", "1", "-W", "2", $"10.236.{name.Length}.11");
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }
}
