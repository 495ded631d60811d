using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>
/// examples/netboot for real: a gateway container serves DHCP, TFTP and an iPXE script; a QEMU VM on the lab's bridge
/// boots its kernel and initrd from it and greets on its serial console. KVM or TCG as Spawnlab finds out by booting
/// a kernel (the development machines have a /dev/kvm under which Linux guests hang).
/// </summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class VmSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private LabDefinition CopyExample(string name)
    {
        var directory = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(directory, "examples")))
            directory = Path.GetDirectoryName(directory) ?? throw new InvalidOperationException("examples/ not found above the test binaries");
        var example = Path.Combine(directory, "examples", "netboot");
        foreach (var file in Directory.EnumerateFiles(example))
            File.Copy(file, Path.Combine(_files.Directory, Path.GetFileName(file)));
        foreach (var file in Directory.EnumerateFiles(_files.Directory))
            File.WriteAllText(file, File.ReadAllText(file).Replace("10.233.0.", "10.236.0.", StringComparison.Ordinal));
        return _files.Write(File.ReadAllText(Path.Combine(_files.Directory, "lab.yaml")).Replace("lab: netboot", $"lab: {name}", StringComparison.Ordinal));
    }

    [HostFact]
    public async Task A_VM_boots_from_the_network_of_a_gateway_container_greets_on_its_console_and_down_leaves_nothing()
    {
        var name = TestLab.Name("vm");
        var lab = CopyExample(name);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None);

            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.All(result.Checks, c => Assert.True(c.Outcome == CheckOutcome.Passed, $"{c.Machine}/{c.Stage}: {c.Name}: {c.Message}"));
            Assert.Contains(result.Checks, c => c.Machine == "r00p01" && c.Name.StartsWith("console shows", StringComparison.Ordinal));
            var state = controller.Store.Load(name)!;
            var vm = controller.Statuses([state]).Single(m => m.Machine == "r00p01");
            Assert.Equal((MachineKind.Vm, MachineRunState.Running), (vm.Kind, vm.State));
            Assert.True(await HostProbe.LinkExistsAsync(state.Machines["r00p01"].Interfaces[0].HostVeth));
            Assert.Contains("r00p01 booted from the lab network", File.ReadAllText(state.Machines["r00p01"].ConsoleLog!), StringComparison.Ordinal);
            var graph = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "graph", name);
            Assert.Contains("[vm, running]", graph.Stdout, StringComparison.Ordinal);
            var inventory = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "inventory", name, "--host", "r00p01");
            Assert.Equal(0, inventory.ExitCode);
            Assert.Contains("\"spawnlab_kind\": \"vm\"", inventory.Stdout, StringComparison.Ordinal);
            var exec = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "exec", $"{name}/r00p01", "--", "true");
            Assert.Equal(1, exec.ExitCode);
            Assert.Contains("is a network-booted VM: it has no agent to run commands in", exec.Stderr, StringComparison.Ordinal);

            // Its disk was snapshotted after the stage; up again keeps it all.
            var again = await controller.UpCleanlyAsync(lab);
            Assert.All(again.Machines.Values.SelectMany(m => m.Stages), s => Assert.Equal(State.StageStatus.Cached, s.Status));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }

    [HostFact]
    public async Task A_VM_boots_from_the_host_s_dnsmasq_serving_a_tftp_folder_of_the_lab()
    {
        var name = TestLab.Name("vmh");
        CopyExample(name);
        Directory.CreateDirectory(Path.Combine(_files.Directory, "tftp"));
        // The gateway image's container only makes the kernel and initrd, into the folder the host serves.
        var lab = _files.Write($$"""
            lab: {{name}}
            images:
              gateway:
                bootstrap: debootstrap
                suite: bookworm
                packages: [dnsmasq, linux-image-amd64, busybox-static, cpio]
                setup: systemctl disable dnsmasq
            networks:
              lan: { subnet: 10.235.0.0/24, host: 10.235.0.1, dhcp: true, tftp: ./tftp }
            machines:
              maker:
                image: gateway
                binds: [ "./tftp:/srv/tftp" ]
                networks: { lan: { address: 10.235.0.2/24 } }
                stages:
                  - name: files
                    files: { /srv/tftp/boot.ipxe: ./boot.ipxe, /srv/initrd/init: ./init }
                    run: |
                      cp /boot/vmlinuz-* /srv/tftp/vmlinuz && chmod 644 /srv/tftp/*
                      mkdir -p /srv/initrd/bin && cp /bin/busybox /srv/initrd/bin/busybox && chmod +x /srv/initrd/init
                      (cd /srv/initrd && find . | cpio -o -H newc --quiet | gzip -1 > /srv/tftp/initrd.gz) && chmod 644 /srv/tftp/initrd.gz
              pc:
                kind: vm
                boot: network
                memory: 256M
                after: [ maker/files ]
                networks: { lan: { dhcp: true } }
                stages:
                  - name: netboot
                    checks:
                      - console: 'booted from the lab network'
                        timeout: 300s
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None);

            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.All(result.Checks, c => Assert.True(c.Outcome == CheckOutcome.Passed, $"{c.Machine}/{c.Stage}: {c.Name}: {c.Message}"));
            Assert.Contains("enable-tftp", File.ReadAllText(Path.Combine(controller.Store.LabDirectory(name), "dnsmasq-lan.conf")), StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }

    /// <summary>
    /// A lab of one image-booted VM, pc, on network lan of <paramref name="net"/>.0/24, with these lines of its own
    /// (stages), and these other machines (containers of image base).
    /// </summary>
    private LabDefinition ImageVmLab(string name, string net, string machine, string others = "") => _files.Write($$"""
        lab: {{name}}
        {{TestLab.Image}}
          vm:
            bootstrap: debootstrap
            suite: bookworm
            packages: [linux-image-amd64, qemu-guest-agent, iputils-ping]
        networks:
          lan: { subnet: {{net}}.0/24, host: {{net}}.1 }
        machines:
          pc:
            kind: vm
            image: vm
            memory: 512M
            networks: { lan: { address: {{net}}.10/24 } }
        {{string.Join('\n', machine.Split('\n').Select(line => "    " + line))}}
        {{string.Join('\n', others.Split('\n').Select(line => "  " + line))}}
        """);

    [HostFact]
    public async Task An_image_booted_VM_runs_stages_through_its_agent_is_restored_rolled_back_with_a_container_and_reached_on_its_console()
    {
        var name = TestLab.Name("vmi");
        File.WriteAllText(Path.Combine(_files.Directory, "motd"), "a VM of the lab\n");
        var lab = ImageVmLab(name, "10.234.0", """
        stages:
          - name: one
            files: { /etc/motd: ./motd }
            host: mkdir -p "$ROOT/etc" && echo "made on the host for $MACHINE" > "$ROOT/etc/from-host"
            run: echo one > /one
            checks:
              - file: /etc/from-host
                contains: made on the host for pc
              - file: /one
                contains: one
              - ping: 10.234.0.1
              - command: ip -4 -o addr show dev lan
                stdout: 10\.234\.0\.10/24
          - name: two
            after: [ srv/s2 ]
            run: echo two > /two
            checks:
              - command: cat /two /etc/motd
                stdout: two
              - console: 'root \(automatic login\)'
        """, """
        srv:
          image: base
          networks: { lan: { address: 10.234.0.20/24 } }
          stages:
            - name: s1
              run: echo s1 > /s1
            - name: s2
              run: echo s2 > /s2
        """);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var result = await controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None);

            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.Equal(6, result.Checks.Count);
            Assert.All(result.Checks, c => Assert.True(c.Outcome == CheckOutcome.Passed, $"{c.Machine}/{c.Stage}: {c.Name}: {c.Message}"));
            var exec = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "exec", $"{name}/pc", "--", "cat", "/two");
            Assert.Equal((0, "two\n"), (exec.ExitCode, exec.Stdout));

            // Back to just after stage one: the disk as it was then, booted again; two is pending.
            await controller.RestoreAsync($"{name}/pc", "one", CancellationToken.None);
            var state = controller.Store.Load(name)!;
            Assert.Equal([State.StageStatus.Ran, State.StageStatus.Pending], state.Machines["pc"].Stages.Select(s => s.Status));
            var gone = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "exec", $"{name}/pc", "--", "cat", "/one", "/two");
            Assert.Equal(1, gone.ExitCode);
            Assert.Contains("one", gone.Stdout, StringComparison.Ordinal);
            Assert.Contains("/two: No such file", gone.Stderr, StringComparison.Ordinal);

            // Two again; then srv back to s1 takes pc back to one, whose stage two waited for srv/s2.
            await controller.UpCleanlyAsync(lab);
            var rolledBack = await controller.RollbackAsync($"{name}/srv/s1", CancellationToken.None);
            Assert.Contains(rolledBack, line => line.Contains("pc", StringComparison.Ordinal));
            state = controller.Store.Load(name)!;
            Assert.Equal([false, true], state.Machines["srv"].Stages.Select(s => s.Status == State.StageStatus.Pending));
            Assert.Equal([false, true], state.Machines["pc"].Stages.Select(s => s.Status == State.StageStatus.Pending));
            var after = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "exec", $"{name}/pc", "--", "ls", "/");
            Assert.Equal(0, after.ExitCode);
            Assert.Contains("one", after.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("two", after.Stdout, StringComparison.Ordinal);

            // Files into and out of the VM, through its agent.
            Assert.Equal(0, (await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "cp", Path.Combine(_files.Directory, "motd"), $"{name}/pc:/root")).ExitCode);
            var copied = Path.Combine(_files.Directory, "copied");
            var cp = await HostProbe.CliAsync(host.Options(DriverChoice.Btrfs).StateDirectory, null, "cp", $"{name}/pc:/root", copied);
            Assert.True(cp.ExitCode == 0, cp.Stderr);
            Assert.Equal("a VM of the lab\n", File.ReadAllText(Path.Combine(copied, "motd")));

            // A terminal on its serial console: a line typed there runs in the VM; Ctrl-] leaves.
            var console = await HostProbe.CliOnTerminalAsync(host.Options(DriverChoice.Btrfs).StateDirectory,
                ["\r", "echo console-$((6*7))\r", "\u001d"], "console", $"{name}/pc");
            Assert.True(console.ExitCode == 0, console.Output);
            Assert.Contains($"connected to the serial console of {name}/pc; Ctrl-] leaves", console.Output, StringComparison.Ordinal);
            Assert.Contains("console-42", console.Output, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }

    [HostFact]
    public async Task A_SIGKILL_while_a_VM_boots_leaves_a_lab_that_the_next_up_finishes_and_down_removes()
    {
        var name = TestLab.Name("vmk");
        var lab = ImageVmLab(name, "10.233.7", """
        stages:
          - name: one
            run: echo one > /one
        """);
        var stateDirectory = host.Options(DriverChoice.Btrfs).StateDirectory;
        var controller = host.Controller(DriverChoice.Btrfs);
        bool Booting() => HostProbe.ProcessesNamed("qemu-system-x86_64").Any(p => p.CommandLine.Contains($"guest=pc.{name} ", StringComparison.Ordinal));
        try
        {
            await RunningCli.KillWhenAsync(stateDirectory, Booting, "the VM's QEMU", "up", lab.FilePath);
            Assert.True(Booting(), "the VM's QEMU outlives the CLI that started it");

            var state = await controller.UpCleanlyAsync(lab);
            Assert.Equal([State.StageStatus.Ran], state.Machines["pc"].Stages.Select(s => s.Status));
            Assert.Single(HostProbe.ProcessesNamed("qemu-system-x86_64"), p => p.CommandLine.Contains($"guest=pc.{name} ", StringComparison.Ordinal));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.False(Booting());
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }

    [HostFact]
    public async Task Clean_force_takes_down_a_lab_with_a_running_VM_whose_state_is_lost_taps_included()
    {
        var name = TestLab.Name("vmf");
        var lab = ImageVmLab(name, "10.233.9", "");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(lab);
            var tap = state.Machines["pc"].Interfaces[0].HostVeth;
            Assert.True(await HostProbe.LinkExistsAsync(tap));
            File.Delete(Path.Combine(controller.Store.LabDirectory(name), "state.json"));

            var removed = await controller.ForceCleanAsync(name, CancellationToken.None);

            Assert.Contains($"lab {name}: tap {tap}", removed);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }
}
