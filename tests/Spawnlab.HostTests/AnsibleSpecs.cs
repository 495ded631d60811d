using System.Diagnostics;
using System.Text.Json;
using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.HostTests;

/// <summary>
/// examples/ansible for real: three machines on two networks (one machine with the host's root, one on a network the
/// host has no address on) configured by a playbook only; Ansible reaching them through Spawnlab's connection and
/// over SSH through the gateway; the dynamic inventory and the exported layout read by ansible-inventory; the stage
/// cache following a role's template.
/// </summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class AnsibleSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private string At(string path) => Path.Combine(_files.Directory, path);

    /// <summary>The example copied with a name and subnets of its own, a stage before and after web's playbook, and an SSH key.</summary>
    private LabDefinition CopyExample(string name)
    {
        var example = Path.GetDirectoryName(ExampleLab())!;
        foreach (var file in Directory.EnumerateFiles(example, "*", SearchOption.AllDirectories))
        {
            var target = At(Path.GetRelativePath(example, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", At("id"));
        var text = File.ReadAllText(At("lab.yaml"))
            .Replace("lab: ansible-demo", $"lab: {name}\nssh: {{ authorized_keys: [ ./id.pub ] }}", StringComparison.Ordinal)
            .Replace("10.232.", "10.237.", StringComparison.Ordinal)
            .Replace("""
                    stages:
                      - name: configure
                        ansible: { playbook: ./ansible/site.yml }
                        checks:
                          - service: nginx
                """, """
                    stages:
                      - name: prepare
                        run: echo prepared > /prepared
                      - name: configure
                        ansible: { playbook: ./ansible/site.yml }
                        checks:
                          - service: nginx
                """, StringComparison.Ordinal)
            .Replace("""
                          - command: id -u deploy

                """, """
                          - command: id -u deploy
                      - name: smoke
                        run: curl -sf http://localhost/ | grep -q Welcome

                """, StringComparison.Ordinal);
        Assert.Contains("name: smoke", text, StringComparison.Ordinal);
        Assert.Contains("name: prepare", text, StringComparison.Ordinal);
        return _files.Write(text);
    }

    private static string ExampleLab()
    {
        var directory = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(directory, "examples")))
            directory = Path.GetDirectoryName(directory) ?? throw new InvalidOperationException("examples/ not found above the test binaries");
        return Path.Combine(directory, "examples", "ansible", "lab.yaml");
    }

    /// <summary>Runs a program with Spawnlab's collection found where this test installs it; fails the test if it fails.</summary>
    private string Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        info.Environment["ANSIBLE_COLLECTIONS_PATH"] = At("collections");
        info.Environment["SPAWNLAB_STATE_DIR"] = host.Options(DriverChoice.Btrfs).StateDirectory;
        info.Environment["ANSIBLE_NOCOLOR"] = "1";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited {process.ExitCode}: {output.Result}{error}");
        return output.Result;
    }

    /// <summary>`spawnlab ARGS`, run as a user runs it, with the test's state directory and collections folder.</summary>
    private string Cli(params string[] arguments) =>
        Run(HostProbe.Cli[0], [.. HostProbe.Cli.Skip(1), $"--state-dir={host.Options(DriverChoice.Btrfs).StateDirectory}", .. arguments]);

    [HostFact]
    public async Task Ansible_configures_the_example_and_reaches_every_machine_without_SSH_and_over_SSH_and_a_template_reruns_its_stages_only()
    {
        var name = TestLab.Name("ans");
        var lab = CopyExample(name);
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            // The playbook's roles configure all three machines, and every check passes.
            var result = await controller.UpAsync(lab, new Lifecycle.UpOptions(), CancellationToken.None);
            Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
            Assert.Equal(7, result.Checks.Count);
            Assert.All(result.Checks, c => Assert.True(c.Outcome == CheckOutcome.Passed, $"{c.Machine}/{c.Stage}: {c.Name}: {c.Message}"));
            Assert.Equal("deploy:root\n", await controller.InsideAsync(name, "web", "stat", "-c", "%U:%G", "/var/www/html/index.html"));

            // Spawnlab's connection, from the inventory alone: the machine in a user namespace, the one with the
            // host's root and the one on a network the host has no address on. What Ansible copies is root's inside.
            File.WriteAllText(At("inventory.yml"), Cli("inventory", name));
            var pong = Run("ansible", "-i", At("inventory.yml"), "all", "-m", "ping", "-o");
            Assert.Equal(3, pong.Split('\n').Count(l => l.Contains("SUCCESS", StringComparison.Ordinal)));
            Run("ansible", "-i", At("inventory.yml"), "gw", "-m", "copy", "-a", "content=x dest=/root/copied");
            Assert.Equal("root:root 644\n", await controller.InsideAsync(name, "gw", "stat", "-c", "%U:%G %a", "/root/copied"));

            // SSH as root, the client through the gateway.
            File.WriteAllText(At("ssh.yml"), Cli("inventory", name, "--connection", "ssh"));
            var overSsh = Run("ansible", "-i", At("ssh.yml"), "-e", $"ansible_ssh_private_key_file={At("id")}", "all", "-m", "command", "-a", "hostname", "-o");
            foreach (var machine in new[] { "gw", "web", "client" })
                Assert.Contains($"{machine} | CHANGED | rc=0 | (stdout) {machine}", overSsh, StringComparison.Ordinal);

            // The executable as a dynamic inventory, as Ansible calls it, and the exported layout.
            File.WriteAllText(At("spawnlab-inventory"), $"#!/bin/sh\nexec {string.Join(' ', HostProbe.Cli)} \"$@\"\n");
            File.SetUnixFileMode(At("spawnlab-inventory"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using (var list = JsonDocument.Parse(Run("ansible-inventory", "-i", At("spawnlab-inventory"), "--list")))
            {
                var hostvars = list.RootElement.GetProperty("_meta").GetProperty("hostvars");
                Assert.Equal("Contest", hostvars.GetProperty("web").GetProperty("site_title").GetString());
                Assert.True(hostvars.GetProperty("web").GetProperty("container_setup").GetBoolean());
                Assert.Equal(["web"], list.RootElement.GetProperty("webservers").GetProperty("hosts").EnumerateArray().Select(h => h.GetString()));
            }
            Cli("inventory", name, "--export", At("export"));
            using (var exported = JsonDocument.Parse(Run("ansible-inventory", "-i", At("export/hosts.yml"), "--host", "gw")))
            {
                var mac = Networks.HostNames.Mac(name, "gw", "servers");
                Assert.Equal(mac, exported.RootElement.GetProperty("mac").GetString());
                Assert.Equal($"{name}/gw", exported.RootElement.GetProperty("spawnlab_machine").GetString());
            }

            // A role's template: only the stages whose plays use that role run again, and web's later stage after it.
            File.AppendAllText(At("ansible/roles/web/templates/index.html.j2"), "<p>edited</p>\n");
            var state = await controller.UpCleanlyAsync(lab);
            Assert.Equal([StageStatus.Cached, StageStatus.Ran, StageStatus.Ran], state.Machines["web"].Stages.Select(s => s.Status));
            Assert.Equal([StageStatus.Cached], state.Machines["gw"].Stages.Select(s => s.Status));
            Assert.Equal([StageStatus.Cached], state.Machines["client"].Stages.Select(s => s.Status));
            Assert.Contains("<p>edited</p>", await controller.InsideAsync(name, "client", "curl", "-sf", "http://web.demo.test/"), StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }
}
