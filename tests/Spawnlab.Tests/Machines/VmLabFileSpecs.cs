using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Tests.Labs;

namespace Spawnlab.Tests.Machines;

/// <summary>VM machines in the lab file, and console checks.</summary>
public sealed class VmLabFileSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static string Lab(string machine) => $"""
        lab: vms
        images:
          base: {"{"} packages: [dnsmasq] {"}"}
        networks:
          lan: {"{"} subnet: 10.0.0.0/24, host: 10.0.0.1 {"}"}
        machines:
          gw:
            image: base
            networks: {"{"} lan: {"{"} address: 10.0.0.2/24 {"}"} {"}"}
        {machine}
        """;

    [Fact]
    public void A_network_booted_VM_takes_its_size_memory_cpus_and_console_checks()
    {
        var lab = _files.Parse(Lab("""
              pc:
                kind: vm
                boot: network
                memory: 256M
                cpus: 2
                disk: 1G
                after: [ gw/serve ]
                networks: { lan: { dhcp: true } }
                stages:
                  - name: netboot
                    checks:
                      - console: 'login:'
                        send: "root\n"
                        timeout: 300s
            """).Replace("    networks: { lan: { address: 10.0.0.2/24 } }", "    networks: { lan: { address: 10.0.0.2/24 } }\n    stages: [ { name: serve, run: 'true' } ]", StringComparison.Ordinal));

        var pc = lab.Machines["pc"];
        Assert.Equal(MachineKind.Vm, pc.Kind);
        Assert.Equal(new VmDefinition(VmBoot.Network, 256, 2, 1L << 30), pc.Vm);
        Assert.False(pc.HasImage);
        var check = pc.Stages[0].Checks[0];
        Assert.Equal((CheckKind.Console, "login:", "root\n", TimeSpan.FromSeconds(300)), (check.Kind, check.Target, check.Send, check.Timeout));
        Assert.Equal(MachineKind.Container, lab.Machines["gw"].Kind);
    }

    [Theory]
    [InlineData("  pc:\n    image: base\n    memory: 1G", "'memory' is a VM's key; add 'kind: vm' or remove it")]
    [InlineData("  pc:\n    kind: vm\n    boot: network\n    binds: [ './x:/x' ]\n    networks: { lan: { dhcp: true } }", "'binds' is a container's key; a VM (kind: vm) has none")]
    [InlineData("  pc:\n    kind: vm\n    image: base", "add linux-image-amd64 and qemu-guest-agent to the packages of image 'base'")]
    [InlineData("  pc:\n    kind: vm\n    image: base\n    stages: [ { name: s, ansible: { playbook: ./lab.yaml } } ]", "ansible: does not reach VMs yet")]
    [InlineData("  pc:\n    kind: box", "kind: expected container or vm, found 'box'")]
    [InlineData("  pc:\n    kind: vm\n    boot: network\n    memory: lots\n    networks: { lan: { dhcp: true } }", "memory: expected a size such as 512M or 2G")]
    [InlineData("  pc:\n    kind: vm\n    boot: network\n    memory: 1M\n    networks: { lan: { dhcp: true } }", "memory: 1M is out of bounds")]
    [InlineData("  pc:\n    kind: vm\n    boot: network", "a VM with boot: network boots from its first network; expected 'networks:'")]
    [InlineData("  pc:\n    kind: vm\n    boot: network\n    image: base\n    networks: { lan: { dhcp: true } }", "a VM with boot: network starts from an empty disk")]
    [InlineData("  pc:\n    kind: vm\n    boot: network\n    networks: { lan: { dhcp: true } }\n    stages: [ { name: s, run: 'true' } ]", "has no agent to run files, host, run or ansible")]
    [InlineData("  pc:\n    kind: vm\n    boot: network\n    networks: { lan: { dhcp: true } }\n    stages: [ { name: s, checks: [ { ping: gw } ] } ]", "needs an agent inside; a network-booted VM takes console checks only")]
    [InlineData("  pc:\n    image: base\n    stages: [ { name: s, checks: [ { console: x, send: y } ] } ]", "a container's console (its boot log) takes no input")]
    [InlineData("  pc:\n    image: base\n    stages: [ { name: s, checks: [ { command: 'true', send: y } ] } ]", "unknown key 'send'")]
    [InlineData("  pc:\n    image: base\n    stages: [ { name: s, checks: [ { console: '(' } ] } ]", "console: '(' is not a regular expression")]
    public void Wrong_VM_keys_are_named_with_what_was_expected(string machine, string expected)
    {
        var errors = _files.Errors(Lab(machine));

        Assert.Contains(errors, e => e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_console_check_on_a_container_reads_its_boot_log_since_its_last_boot()
    {
        var log = _files.Write("--- 2026-01-01 systemd-nspawn --machine=m.lab\nWelcome old\n--- 2026-01-02 systemd-nspawn --machine=m.lab\nbooting\nlogin: \n", "boot.log");
        var runner = new CheckRunner(new Fakes.FakeShell());
        var session = new NspawnSession("m", 42, log);

        var current = await runner.RunAsync("lab", "m", "s", session, new CheckDefinition(CheckKind.Console, "^login:", TimeSpan.FromMilliseconds(200)), CancellationToken.None);
        var old = await runner.RunAsync("lab", "m", "s", session, new CheckDefinition(CheckKind.Console, "Welcome", TimeSpan.FromMilliseconds(200)), CancellationToken.None);

        Assert.Equal(CheckOutcome.Passed, current.Outcome);
        Assert.Equal(CheckOutcome.Failed, old.Outcome);
        Assert.StartsWith("the console does not show /Welcome/; it ends with: 'booting / login:'", old.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "qemu-system-x86_64", "-name", "guest=pc.vms", "-m", "256" }, "vms", "pc")]
    [InlineData(new[] { "/usr/bin/qemu-system-x86_64", "-name", "guest=pc.vms" }, "vms", "pc")]
    [InlineData(new[] { "qemu-system-x86_64", "-name", "guest=pc.other" }, "vms", null)]
    [InlineData(new[] { "systemd-nspawn", "--machine=pc.vms" }, "vms", null)]
    public void A_QEMU_process_runs_the_machine_its_name_says(string[] arguments, string lab, string? machine) =>
        Assert.Equal(machine, QemuArguments.MachineOf(arguments, lab));

    private static string Network(string keys) => $$"""
        lab: tf
        images:
          base: { packages: [dnsmasq] }
        networks:
          lan: { subnet: 10.0.0.0/24, host: 10.0.0.1, {{keys}} }
        machines:
          gw:
            image: base
            networks: { lan: { address: 10.0.0.2/24 } }
        """;

    [Fact]
    public void A_network_s_host_serves_a_tftp_folder_to_iPXE()
    {
        System.IO.Directory.CreateDirectory(Path.Combine(_files.Directory, "tftp"));
        var lab = _files.Parse(Network("dhcp: true, tftp: ./tftp, boot_file: menu.ipxe"));

        var network = lab.Networks["lan"];
        Assert.Equal((Path.Combine(_files.Directory, "tftp"), "menu.ipxe"), (network.Tftp, network.BootFile));
        var config = Spawnlab.Networks.DnsmasqConfig.For(lab, network, "slb", "/l", "/h");
        Assert.Contains($"enable-tftp\ntftp-root={network.Tftp}\ndhcp-match=set:ipxe,175\ndhcp-boot=tag:ipxe,menu.ipxe\n", config, StringComparison.Ordinal);
        Assert.DoesNotContain("tftp", Spawnlab.Networks.DnsmasqConfig.For(lab, network with { Tftp = null }, "slb", "/l", "/h"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tftp: ./tftp", "expected dhcp: true")]
    [InlineData("dhcp: true, tftp: ./tftp, host_access: dhcp-dns", "expected host_access: all")]
    [InlineData("dhcp: true, boot_file: x.ipxe", "expected 'tftp' too")]
    [InlineData("dhcp: true, tftp: ./nope", "does not exist")]
    [InlineData("dhcp: true, tftp: ./tftp, boot_file: ../x", "expected a file name in the tftp folder")]
    public void Wrong_tftp_keys_say_what_is_expected(string keys, string expected)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(_files.Directory, "tftp"));

        Assert.Contains(_files.Errors(Network(keys)), e => e.Message.Contains(expected, StringComparison.Ordinal));
    }
}
