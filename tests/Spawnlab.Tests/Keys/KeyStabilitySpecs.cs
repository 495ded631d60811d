using Spawnlab.Images;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Stages;

namespace Spawnlab.Tests.Keys;

/// <summary>
/// The keys of images, machines and stages, pinned: a key that changes makes every user's cached images and stages
/// stale, so how they are computed may change only on purpose.
/// </summary>
public sealed class KeyStabilitySpecs : IDisposable
{
    // A fixed folder: a bind's host path is part of a machine's configuration.
    private readonly string _folder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "spawnlab-keys-pinned")).FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private LabDefinition Lab(string prefix = "")
    {
        File.WriteAllText(Path.Combine(_folder, "motd"), "hello <world> & 'all' é\n");
        File.WriteAllText(Path.Combine(_folder, "site.yml"), "- hosts: all\n  tasks: []\n");
        File.WriteAllText(Path.Combine(_folder, "root.tar"), "not really a tarball");
        File.WriteAllText(Path.Combine(_folder, "make.sh"), "echo make\n");
        Directory.CreateDirectory(Path.Combine(_folder, "data"));
        var path = Path.Combine(_folder, "lab.yaml");
        File.WriteAllText(path, prefix + """
            lab: keys
            vars: { contest: true }
            images:
              base: { bootstrap: debootstrap, suite: bookworm, packages: [curl, python3], setup: echo base }
              tar: { bootstrap: tarball, tarball: ./root.tar, setup: echo tar }
              cmd: { bootstrap: command, command: sh ./make.sh, inputs: [./make.sh] }
              web: { from: base, packages: [nginx-light, tree], setup: echo web }
            networks:
              lan: { subnet: 10.99.0.0/24, host: 10.99.0.1 }
              dmz: { subnet: 10.98.0.0/24, host: 10.98.0.1, dhcp: true }
            machines:
              web:
                image: web
                groups: [servers]
                vars: { port: 80 }
                binds: [ "./data:/srv/data:ro" ]
                tmpfs: [ /var/cache ]
                networks: { lan: { address: 10.99.0.10/24, gateway: 10.99.0.1 }, dmz: { dhcp: true } }
                stages:
                  - name: files
                    files: { /etc/motd: ./motd }
                    run: echo "<b>" && cat /etc/motd
                    checks:
                      - command: cat /etc/motd
                        stdout: hello
                      - ping: 10.99.0.1
                  - name: host
                    host: echo "$ROOT"
                  - name: play
                    ansible: { playbook: ./site.yml, tags: [web], extra_vars: { x: 1 } }
            """);
        return LabParser.ParseFile(path);
    }

    [Fact]
    public void Image_keys_are_pinned()
    {
        var images = Lab().Images;
        Assert.Equal(
            ["base-5313b21c6ce96dbf", "tar-624432ecddcdb120", "cmd-21303997b6727136", "web-52a2d32998002d4e"],
            images.Values.Select(i => ImageKeys.FolderName(i, images)));
    }

    [Fact]
    public void Stage_keys_are_pinned()
    {
        var lab = Lab();
        var web = lab.Machines["web"];
        var host = AnsibleHost.Of(lab, web);
        var keys = new List<string>();
        var previous = "start";
        foreach (var stage in web.Stages)
            keys.Add(previous = StageKeys.Of(previous, stage, stage.Ansible is null ? null : host));
        Assert.Equal(["db662fc9b12039cbda7c5fdf", "a2f56479e764ca7e27f2e77e", "ed67e29d16feb338db843e18"], keys);
    }

    [Fact]
    public void A_machine_s_configuration_hash_is_pinned_and_does_not_follow_where_its_binds_are_written()
    {
        var lab = Lab();
        Assert.Equal("6f48cd738325211b", UpPlanner.ConfigHash(lab, lab.Machines["web"], "/pool/images/web-1"));
        var moved = Lab("# a comment that moves every line down\n\n");
        Assert.Equal(UpPlanner.ConfigHash(lab, lab.Machines["web"], "/pool/images/web-1"), UpPlanner.ConfigHash(moved, moved.Machines["web"], "/pool/images/web-1"));
    }
}
