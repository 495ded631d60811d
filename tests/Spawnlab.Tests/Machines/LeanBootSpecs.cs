using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;

namespace Spawnlab.Tests.Machines;

/// <summary>A container boots lean unless its lab says full_boot: what is masked, what is left, and that it is part of its configuration.</summary>
public sealed class LeanBootSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("spawnlab-lean-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private LabDefinition Lab(string machine = "") => Write($$"""
        lab: lean
        images:
          base: { bootstrap: debootstrap, suite: bookworm }
        machines:
          web:
            image: base
        {{machine}}
        """);

    private LabDefinition Write(string text)
    {
        var path = Path.Combine(_folder, "lab.yaml");
        File.WriteAllText(path, text);
        return LabParser.ParseFile(path);
    }

    private string Root()
    {
        var root = Directory.CreateDirectory(Path.Combine(_folder, "root-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        Directory.CreateDirectory(Path.Combine(root, "etc/systemd/system"));
        return root;
    }

    [Fact]
    public void A_lean_container_has_the_units_it_does_not_need_masked_and_its_journal_in_memory()
    {
        var root = Root();
        // A unit the image itself configures in /etc is the image's business.
        File.WriteAllText(Path.Combine(root, "etc/systemd/system/fstrim.timer"), "[Timer]\nOnCalendar=daily\n");
        var lab = Lab();

        MachineRootFiles.Write(root, lab.Machines["web"], lab);

        foreach (var unit in MachineRootFiles.LeanMasks.Where(u => u != "fstrim.timer"))
            Assert.Equal("/dev/null", new FileInfo(Path.Combine(root, "etc/systemd/system", unit)).LinkTarget);
        Assert.Equal("[Timer]\nOnCalendar=daily\n", File.ReadAllText(Path.Combine(root, "etc/systemd/system/fstrim.timer")));
        Assert.Contains("Storage=volatile", File.ReadAllText(Path.Combine(root, "etc/systemd/journald.conf.d/50-spawnlab-lean.conf")), StringComparison.Ordinal);
        Assert.Contains("systemd-logind.service", MachineRootFiles.LeanMasks);
    }

    [Fact]
    public void With_full_boot_the_container_boots_every_unit_its_image_enables_and_its_configuration_differs()
    {
        var root = Root();
        var lean = Lab();
        var full = Lab("    full_boot: true");

        MachineRootFiles.Write(root, full.Machines["web"], full);

        Assert.True(full.Machines["web"].FullBoot);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(root, "etc/systemd/system")));
        Assert.False(Directory.Exists(Path.Combine(root, "etc/systemd/journald.conf.d")));
        Assert.NotEqual(UpPlanner.ConfigHash(lean, lean.Machines["web"], "/i"), UpPlanner.ConfigHash(full, full.Machines["web"], "/i"));
    }

    [Fact]
    public void Full_boot_is_a_container_s_key()
    {
        var error = Assert.Throws<LabFileException>(() => Write("""
            lab: lean
            images:
              base: { bootstrap: debootstrap, suite: bookworm, packages: [linux-image-amd64, qemu-guest-agent] }
            machines:
              pc:
                kind: vm
                image: base
                full_boot: true
            """));
        Assert.Contains("full_boot", error.Message, StringComparison.Ordinal);
    }
}
