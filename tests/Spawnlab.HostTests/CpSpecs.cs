using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>`spawnlab cp` into and out of a container for real, through the machine's own view of its files.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class CpSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    [HostFact]
    public async Task Cp_copies_files_and_folders_into_and_out_of_a_machine_as_cp_does_and_a_link_inside_stays_inside()
    {
        var name = TestLab.Name("cp");
        var lab = _files.Write($"lab: {name}\n{TestLab.Image}\nmachines:\n  web:\n    image: base\n");
        var state = host.Options(DriverChoice.Btrfs).StateDirectory;
        var controller = host.Controller(DriverChoice.Btrfs);
        Task<(int ExitCode, string Stdout, string Stderr)> Cli(params string[] arguments) => HostProbe.CliAsync(state, null, arguments);
        var site = Directory.CreateDirectory(Path.Combine(_files.Directory, "site")).FullName;
        File.WriteAllText(Path.Combine(site, "index.html"), "hello\n");
        Directory.CreateDirectory(Path.Combine(site, "css"));
        File.WriteAllText(Path.Combine(site, "css", "a.css"), "body {}\n");
        File.WriteAllText(Path.Combine(_files.Directory, "tool.sh"), "echo tool\n");
        File.SetUnixFileMode(Path.Combine(_files.Directory, "tool.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            await controller.UpCleanlyAsync(lab);

            // Into the machine: a file to a path, a file into a folder that exists, a folder to a new path.
            Assert.Equal(0, (await Cli("cp", Path.Combine(_files.Directory, "tool.sh"), "web:/usr/local/bin/tool")).ExitCode);
            Assert.Equal(0, (await Cli("cp", Path.Combine(_files.Directory, "tool.sh"), "web:/tmp")).ExitCode);
            Assert.Equal(0, (await Cli("cp", site, $"{name}/web:/srv/www")).ExitCode);
            Assert.Equal("tool\n", await controller.InsideAsync(name, "web", "/usr/local/bin/tool"));
            Assert.Equal("700 /tmp/tool.sh\n", await controller.InsideAsync(name, "web", "stat", "-c", "%a %n", "/tmp/tool.sh"));
            Assert.Equal("hello\nbody {}\n", await controller.InsideAsync(name, "web", "cat", "/srv/www/index.html", "/srv/www/css/a.css"));

            // Out of the machine: a file to a path, a folder into a folder that exists.
            await controller.InsideAsync(name, "web", "sh", "-c", "mkdir -p /var/log/app && echo started > /var/log/app/app.log && chmod 640 /var/log/app/app.log");
            var logs = Directory.CreateDirectory(Path.Combine(_files.Directory, "logs")).FullName;
            Assert.Equal(0, (await Cli("cp", "web:/etc/hostname", Path.Combine(_files.Directory, "hostname"))).ExitCode);
            Assert.Equal(0, (await Cli("cp", "web:/var/log/app", logs)).ExitCode);
            Assert.Equal("web\n", File.ReadAllText(Path.Combine(_files.Directory, "hostname")));
            Assert.Equal("started\n", File.ReadAllText(Path.Combine(logs, "app", "app.log")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(Path.Combine(logs, "app", "app.log")));
            Assert.Empty(Directory.EnumerateDirectories(_files.Directory, ".spawnlab-cp-*"));

            // A link the machine made to / leads to the machine's own files, never to the host's.
            await controller.InsideAsync(name, "web", "sh", "-c", "ln -s / /srv/escape && echo machine-secret > /root/secret");
            Assert.Equal(0, (await Cli("cp", "web:/srv/escape/root/secret", Path.Combine(_files.Directory, "secret"))).ExitCode);
            Assert.Equal("machine-secret\n", File.ReadAllText(Path.Combine(_files.Directory, "secret")));
            Assert.Equal(0, (await Cli("cp", Path.Combine(_files.Directory, "tool.sh"), "web:/srv/escape/opt/planted")).ExitCode);
            Assert.False(File.Exists("/opt/planted"));
            Assert.Equal("echo tool\n", await controller.InsideAsync(name, "web", "cat", "/opt/planted"));

            // Wrong uses say what is wrong.
            var both = await Cli("cp", "web:/etc/hostname", "web:/tmp/x");
            Assert.Equal((2, "spawnlab: cp: exactly one of web:/etc/hostname and web:/tmp/x must be MACHINE:/path (a machine's absolute path)\n"), (both.ExitCode, both.Stderr));
            var missing = await Cli("cp", "web:/nonexistent", Path.Combine(_files.Directory, "x"));
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("/nonexistent", missing.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }
}
