using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>A lean container and one with full_boot side by side, for real: what each boots, and that both are usable.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class LeanBootSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    [HostFact]
    public async Task A_lean_container_boots_without_what_it_masks_and_full_boot_brings_it_back()
    {
        var name = TestLab.Name("lean");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            networks:
              lan: { subnet: 10.244.0.0/24, host: 10.244.0.1, dhcp: true }
            machines:
              lean:
                image: base
                networks: { lan: { dhcp: true } }
              full:
                image: base
                full_boot: true
                networks: { lan: { address: 10.244.0.10/24 } }
                stages:
                  - name: reach
                    run: echo reached
                    checks:
                      - ping: 10.244.0.1
                      - dns: lean.{{name}}
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        async Task<string> State(string machine, string unit) =>
            (await controller.InsideAsync(name, machine, "sh", "-c", $"systemctl is-active {unit} || true")).Trim();
        try
        {
            await controller.UpCleanlyAsync(lab);

            Assert.Equal("inactive", await State("lean", "systemd-logind"));
            Assert.Equal("masked", (await controller.InsideAsync(name, "lean", "sh", "-c", "systemctl is-enabled systemd-logind || true")).Trim());
            Assert.Equal("active", await State("full", "systemd-logind"));
            // The lean journal is in memory and still answers; the full one is on disk.
            // (systemd logs its startup as it says it is ready: the line may reach the journal a moment later)
            await controller.InsideAsync(name, "lean", "sh", "-c", "for i in $(seq 50); do journalctl --no-pager -b | grep -q 'Startup finished' && exit 0; sleep 0.2; done; exit 1");
            Assert.Equal("", (await controller.InsideAsync(name, "lean", "sh", "-c", "ls /var/log/journal 2>/dev/null || true")).Trim());
            Assert.NotEqual("", (await controller.InsideAsync(name, "full", "sh", "-c", "ls /var/log/journal")).Trim());
            // What users rely on works lean: a DHCP lease and the lab's DNS.
            Assert.Matches(@"inet 10\.244\.0\.\d+/24", await controller.InsideAsync(name, "lean", "ip", "-4", "-o", "addr", "show", "dev", "lan"));
        }
        finally
        {
            await controller.DownIfUpAsync(name);
        }
        Assert.Empty(await HostProbe.LeftoversAsync(name, lab.Networks.Keys, lab.Machines.Keys, host.PoolRoot()));
    }
}
