using Spawnlab.Ansible;
using Spawnlab.Tests.Lifecycle;

namespace Spawnlab.Tests.Ansible;

/// <summary>An `ansible:` stage in the lifecycle, on a fake host: what ansible-playbook is given.</summary>
public sealed class AnsibleStageSpecs : IDisposable
{
    private readonly FakeLab _lab = new();

    private const string Text = """
        lab: unit
        vars: { container_setup: true }
        images:
          base: { bootstrap: debootstrap, suite: bookworm, packages: [python3] }
        networks:
          lan: { subnet: 10.98.0.0/24, host: 10.98.0.1 }
        machines:
          gw:
            image: base
            groups: [gateways]
            networks: { lan: { address: 10.98.0.2/24 } }
          db:
            image: base
            networks: { lan: { address: 10.98.0.10/24 } }
            stages:
              - name: configure
                ansible: { playbook: ./site.yml, tags: [db], extra_vars: { x: 1 } }
        """;

    public AnsibleStageSpecs() => File.WriteAllText(Path.Combine(_lab.Folder, "site.yml"), "- hosts: all\n  tasks: []\n");

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task The_playbook_runs_on_the_host_limited_to_the_machine_with_an_inventory_of_the_lab_and_Spawnlab_s_collection()
    {
        var result = await _lab.UpAsync(_lab.Lab(Text));

        Assert.Empty(result.Failures);
        var playbook = Assert.Single(_lab.Host.Shell.Commands, c => c.Arguments.Contains("ansible-playbook"));
        var arguments = playbook.Arguments.SkipWhile(a => a != "ansible-playbook").ToList();
        var inventory = arguments[arguments.IndexOf("-i") + 1];
        Assert.Equal(["--limit", "db", "--tags", "db", "--extra-vars", """{"x":1}""", Path.Combine(_lab.Folder, "site.yml")], arguments[3..]);
        Assert.Equal(_lab.Folder, playbook.WorkingDirectory);
        Assert.StartsWith(Path.Combine(_lab.StateFolder, "ansible", "collections") + ":", playbook.Environment["ANSIBLE_COLLECTIONS_PATH"], StringComparison.Ordinal);
        Assert.True(AnsibleCollection.IsInstalled(Path.Combine(_lab.StateFolder, "ansible", "collections")));
        var yaml = File.ReadAllText(inventory);
        Assert.Contains("ansible_connection: spawnlab.lab.machine", yaml, StringComparison.Ordinal);
        Assert.Contains("- fake-machine", yaml, StringComparison.Ordinal);
        Assert.Contains("container_setup: true", yaml, StringComparison.Ordinal);
        Assert.Contains("gateways:", yaml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_ansible_playbook_up_says_how_to_install_it_before_it_makes_anything()
    {
        _lab.Host.MissingPrograms.Add("ansible-playbook");

        var error = await Assert.ThrowsAsync<SpawnlabException>(() => _lab.UpAsync(_lab.Lab(Text)));

        Assert.Contains("ansible-playbook is not installed; fix: apt-get install ansible-core (or ansible)", error.Message, StringComparison.Ordinal);
        Assert.Empty(_lab.Host.Links);
    }
}
