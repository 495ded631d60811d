using System.Runtime.InteropServices;
using Spawnlab.Images;
using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>
/// Spawnlab on a host where systemd is PID 1, for real: this machine has no systemd as PID 1, so the host is a machine
/// of a lab (with <c>private_users: false</c>, systemd-container and nftables) into which a host stage copies the .NET
/// runtime and this build of the CLI (or the native CLI alone, where SPAWNLAB_CLI names it) and the base image's root;
/// the Spawnlab inside runs a lab of its own there.
/// </summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class SystemdHostSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly bool Native = HostProbe.Cli.Count == 1;

    private static readonly string Spawnlab = Native ? "/opt/spawnlab/spawnlab" : "/opt/dotnet/dotnet /opt/spawnlab/spawnlab.dll";

    /// <summary>The line of a host script that puts the CLI into the machine's root.</summary>
    private static string InstallCli()
    {
        if (Native)
            return $"cp {HostProbe.Cli[0]} \"$ROOT/opt/spawnlab/spawnlab\"";
        var dotnet = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var runtime = Path.GetFileName(Path.TrimEndingDirectorySeparator(RuntimeEnvironment.GetRuntimeDirectory()));
        return $"mkdir -p \"$ROOT/opt/dotnet/shared/Microsoft.NETCore.App\" && cp -a {dotnet}/dotnet {dotnet}/host \"$ROOT/opt/dotnet/\""
            + $" && cp -a {dotnet}/shared/Microsoft.NETCore.App/{runtime} \"$ROOT/opt/dotnet/shared/Microsoft.NETCore.App/\""
            + $" && cp -a {AppContext.BaseDirectory}. \"$ROOT/opt/spawnlab/\"";
    }

    [HostFact]
    public async Task Machines_run_as_scopes_registered_with_machined_that_machinectl_systemctl_M_and_journalctl_M_reach_and_down_and_clean_remove()
    {
        var outer = TestLab.Name("sdh");
        var inner = TestLab.Name("in");
        var machine = $"m.{inner}";
        File.WriteAllText(Path.Combine(_files.Directory, "inner.yaml"), $$"""
            lab: {{inner}}
            images:
              base: { bootstrap: command, command: cp -a --reflink=auto /srv/base/. "$ROOT" }
            networks:
              lan: { subnet: 10.241.0.0/24, host: 10.241.0.1 }
            machines:
              m:
                image: base
                networks: { lan: { address: 10.241.0.10/24 } }
                stages:
                  - name: one
                    run: echo one > /one
                    checks:
                      - ping: 10.241.0.1
            """);
        var images = TestLab.Image["images:\n".Length..] + "\n  sd: { from: base, packages: [systemd-container, nftables] }";
        var baseImages = _files.Write($"lab: x\n{TestLab.Image}\nmachines: {{}}\n", "base.yaml").Images;
        var baseRoot = Path.Combine(host.PoolRoot(), "images", ImageKeys.FolderName(baseImages["base"], baseImages));
        var lab = _files.Write($$"""
            lab: {{outer}}
            images:
            {{images}}
            machines:
              h:
                image: sd
                private_users: false
                stages:
                  - name: spawnlab
                    host: |
                      set -e
                      mkdir -p "$ROOT/opt/spawnlab" "$ROOT/srv/base"
                      {{InstallCli()}}
                      cp -a --reflink=auto {{baseRoot}}/. "$ROOT/srv/base/"
                      cp {{_files.Directory}}/inner.yaml "$ROOT/srv/"
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        Task<string> Inside(string script) => controller.InsideAsync(outer, "h", "sh", "-c", $"cd /srv && {script}");
        async Task AssertNothingLeftInside()
        {
            Assert.Equal("", (await Inside("machinectl list --no-legend")).Trim());
            Assert.Equal("", (await Inside("systemctl list-units --all --no-legend 'spawnlab-*'")).Trim());
            Assert.Equal("", (await Inside("ls /sys/fs/cgroup/machine.slice 2>/dev/null | grep spawnlab- || true")).Trim());
        }
        try
        {
            await controller.UpCleanlyAsync(lab);
            Assert.Equal("running", (await Inside("systemctl is-system-running --wait || true")).Trim());
            Assert.Contains("registered with machined", await Inside($"{Spawnlab} doctor --json || true"), StringComparison.Ordinal);

            // The inner lab needs neither btrfs nor debootstrap: a folder pool, an image the user's command makes.
            Assert.Contains($"lab {inner} is up", await Inside($"{Spawnlab} up --driver dir inner.yaml 2>&1"), StringComparison.Ordinal);
            Assert.StartsWith($"{machine} container systemd-nspawn debian 12", (await Inside("machinectl list --no-legend")).Trim(), StringComparison.Ordinal);
            Assert.Equal($"spawnlab-{inner}-m.scope", (await Inside($"machinectl show {machine} -p Unit --value")).Trim());
            Assert.Equal("active", (await Inside($"systemctl is-active spawnlab-{inner}-m.scope")).Trim());
            // Registered with its user namespace: root inside is an unprivileged range of uids outside.
            var uidMap = (await Inside($"cat /proc/$(machinectl show {machine} -p Leader --value)/uid_map")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("0", uidMap[0]);
            Assert.NotEqual("0", uidMap[1]);
            Assert.Contains((await Inside($"systemctl -M {machine} is-system-running || true")).Trim(), (string[])["running", "degraded"]);
            // systemd inside logs its startup as it says it is ready: the line may reach the journal a moment later.
            await Inside($"for i in $(seq 50); do journalctl -M {machine} --no-pager | grep -q 'Startup finished' && exit 0; sleep 0.2; done; exit 1");
            // Without a terminal, and with its input a pipe that is closed at once, machinectl shell hangs up before the
            // command runs; from /dev/null it runs it. What it ran is looked at through `spawnlab exec`.
            await Inside($"machinectl shell {machine} /bin/sh -c 'echo shell-$(cat /one) > /shell' </dev/null");
            Assert.Equal("shell-one\n", await Inside($"{Spawnlab} exec {inner}/m -- cat /shell"));

            // Powered off from machinectl, the machine is stopped for Spawnlab too, and `up` boots it again.
            await Inside($"machinectl poweroff {machine}");
            await Inside($"for i in $(seq 100); do {Spawnlab} ls {inner} | grep -q ' stopped ' && exit 0; sleep 0.2; done; exit 1");
            Assert.Equal("", (await Inside("systemctl list-units --all --no-legend 'spawnlab-*'")).Trim());
            Assert.Contains($"lab {inner} is up", await Inside($"{Spawnlab} up inner.yaml 2>&1"), StringComparison.Ordinal);
            Assert.StartsWith(machine, (await Inside("machinectl list --no-legend")).Trim(), StringComparison.Ordinal);

            Assert.Contains($"lab {inner} is down", await Inside($"{Spawnlab} down {inner} 2>&1"), StringComparison.Ordinal);
            await AssertNothingLeftInside();

            // With its state lost and its nspawn killed alone, `clean --force` still stops the unit and what runs in it.
            await Inside($"{Spawnlab} up inner.yaml >/dev/null 2>&1 && rm /var/lib/spawnlab/labs/{inner}/state.json");
            await Inside($"kill -9 $(awk '/^PPid:/ {{ print $2 }}' /proc/$(machinectl show {machine} -p Leader --value)/status)");
            Assert.Equal("active", (await Inside($"systemctl is-active spawnlab-{inner}-m.scope || true")).Trim());
            Assert.Contains("cleaned", await Inside($"{Spawnlab} clean --force {inner} 2>&1"), StringComparison.Ordinal);
            await AssertNothingLeftInside();
        }
        finally
        {
            await controller.DownIfUpAsync(outer);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(outer, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }
}
