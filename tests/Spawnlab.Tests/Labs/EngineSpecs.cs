using Spawnlab.Labs;
using Spawnlab.Lxd;
using Spawnlab.State;

namespace Spawnlab.Tests.Labs;

/// <summary>The lab's engine (engine: lxd, lxd: remote and project) and what the LXD engine refuses, and how it enters instances.</summary>
public sealed class EngineSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static string Lab(string top, string machine = "", string network = "") => $$"""
        lab: big
        {{top}}
        images:
          base: { packages: [dnsmasq] }
        networks:
          lan: { subnet: 10.0.0.0/24, host: 10.0.0.1, dhcp: true{{network}} }
        machines:
          gw:
            image: base
            networks: { lan: { address: 10.0.0.2/24 } }
        {{machine}}
        """;

    [Fact]
    public void A_lab_runs_on_nspawn_unless_it_says_lxd()
    {
        var lab = _files.Parse(Lab(""));

        Assert.Equal(LabEngine.Nspawn, lab.Engine);
        Assert.Null(lab.Lxd);
    }

    [Fact]
    public void On_lxd_the_project_is_the_labs_own_unless_named_and_the_socket_is_a_path()
    {
        var plain = _files.Parse(Lab("engine: lxd"));
        var named = _files.Parse(Lab("engine: lxd\nlxd: { remote: 'unix:///run/lxd-a/unix.socket', project: contest }"));

        Assert.Equal((LabEngine.Lxd, "spawnlab-big"), (plain.Engine, LxdEngine.ProjectOf(plain)));
        Assert.Equal("contest", LxdEngine.ProjectOf(named));
        Assert.Equal("/run/lxd-a/unix.socket", LxdClient.FindSocket(named.Lxd!.Remote));
        Assert.Equal("/srv/lxd.sock", LxdClient.FindSocket("/srv/lxd.sock"));
    }

    [Theory]
    [InlineData("engine: docker", "", "", "engine 'docker': expected nspawn or lxd")]
    [InlineData("lxd: { project: x }", "", "", "lxd: only with 'engine: lxd'")]
    [InlineData("engine: lxd\nlxd: { remote: 'https://cluster:8443' }", "", "", "add an HTTPS daemon with `lxc remote add NAME https://cluster:8443` and name it here")]
    [InlineData("engine: lxd\nlxd: { remote: 'my cluster' }", "", "", "expected the daemon's unix socket (/PATH or unix:///PATH) or the name of an lxc remote")]
    [InlineData("engine: lxd\nlxd: { project: 'Big Lab' }", "", "", "lxd project 'Big Lab': expected a lowercase letter")]
    [InlineData("engine: lxd\nlxd: { colour: red }", "", "", "unknown key 'colour'")]
    [InlineData("engine: lxd", "  pc:\n    kind: vm\n    boot: network\n    networks: { lan: { dhcp: true } }", "", "machine pc: VMs are not supported on LXD by Spawnlab yet")]
    [InlineData("engine: lxd", "  pc:\n    image: base\n    read_only: true", "", "machine pc: 'read_only' is not supported on LXD")]
    [InlineData("engine: lxd", "  pc:\n    image: base\n    binds: [ '@gw:/srv/gw' ]", "", "a bind of another machine's root (@gw) is not supported on LXD")]
    [InlineData("engine: lxd", "", ", tftp: ./", "network lan: 'tftp' is not supported on LXD")]
    [InlineData("engine: lxd", "", ", host_access: none", "network lan: 'host_access' is not supported on LXD")]
    public void What_the_LXD_engine_cannot_run_is_refused_with_the_reason(string top, string machine, string network, string expected)
    {
        var errors = _files.Errors(Lab(top, machine, network));

        Assert.Contains(errors, e => e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void What_LXD_cannot_run_is_said_even_when_the_lxd_settings_are_wrong_too()
    {
        var errors = _files.Errors(Lab("engine: lxd\nlxd: { project: 'Big' }", "  pc:\n    image: base\n    read_only: true"));

        Assert.Contains(errors, e => e.Message.Contains("lxd project 'Big'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains("machine pc: 'read_only' is not supported on LXD", StringComparison.Ordinal));
    }

    [Fact]
    public void The_same_machine_on_another_engine_is_another_machine_with_other_stage_keys()
    {
        var nspawn = _files.Parse(Lab(""));
        var lxd = _files.Parse(Lab("engine: lxd"));

        Assert.NotEqual(
            Spawnlab.Lifecycle.UpPlanner.ConfigHash(nspawn, nspawn.Machines["gw"], "/pool/images/base-1"),
            Spawnlab.Lifecycle.UpPlanner.ConfigHash(lxd, lxd.Machines["gw"], "/pool/images/base-1"));
        Assert.NotEqual(
            Spawnlab.Lifecycle.UpPlanner.BaseKey(nspawn, nspawn.Machines["gw"], "/pool/images/base-1"),
            Spawnlab.Lifecycle.UpPlanner.BaseKey(lxd, lxd.Machines["gw"], "/pool/images/base-1"));
    }

    [Fact]
    public void A_remote_is_named_as_the_lxc_client_names_it_and_found_in_its_configuration()
    {
        var lab = _files.Parse(Lab("engine: lxd\nlxd: { remote: cluster }"));
        var config = Path.Combine(_files.Directory, "lxc");
        Directory.CreateDirectory(Path.Combine(config, "servercerts"));
        File.WriteAllText(Path.Combine(config, "config.yml"), "remotes:\n  cluster:\n    addr: https://10.0.0.5:8443\n    protocol: lxd\n  images:\n    addr: https://images.example\n    protocol: simplestreams\n");
        File.WriteAllText(Path.Combine(config, "client.crt"), "");
        File.WriteAllText(Path.Combine(config, "client.key"), "");
        var previous = Environment.GetEnvironmentVariable("LXD_CONF");
        Environment.SetEnvironmentVariable("LXD_CONF", config);
        try
        {
            var place = LxdEngine.PlaceOf(lab);
            var remote = LxdRemote.Find("cluster");

            Assert.Equal(("cluster", "", "spawnlab-big"), (place.Remote, place.Socket, place.Project));
            Assert.Equal(new Uri("https://10.0.0.5:8443"), remote.Address);
            Assert.Null(remote.ServerCertificate);
            Assert.Contains("is a simplestreams image server", Assert.Throws<SpawnlabException>(() => LxdRemote.Find("images")).Message);
            Assert.Contains("has no remote of that name", Assert.Throws<SpawnlabException>(() => LxdRemote.Find("elsewhere")).Message);
            var session = new LxdSession("web", place, new Fakes.FakeShell());
            Assert.Equal([$"LXD_CONF={config}", "lxc", "exec", "--project", "spawnlab-big", "cluster:web", "--"], session.Enter(["true"]).Arguments.Take(7));
        }
        finally
        {
            Environment.SetEnvironmentVariable("LXD_CONF", previous);
        }
    }

    [Fact]
    public void An_instance_is_entered_by_lxc_exec_with_its_daemon_and_project_named_in_the_command()
    {
        var session = new LxdSession("web", new LxdPlace("/tmp/lxd-a/unix.socket", "spawnlab-big"), new Fakes.FakeShell());

        var command = session.Enter(["cat", "/etc/hostname"]);

        Assert.Equal("env", command.Program);
        Assert.Equal(["LXD_DIR=/tmp/lxd-a", "lxc", "exec", "--project", "spawnlab-big", "web", "--", "env", "-i"], command.Arguments.Take(9));
        Assert.Equal(["cat", "/etc/hostname"], command.Arguments.TakeLast(2));
        Assert.False(session.RootOnHost);
    }
}
