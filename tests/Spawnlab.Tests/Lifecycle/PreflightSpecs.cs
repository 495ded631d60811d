namespace Spawnlab.Tests.Lifecycle;

/// <summary>`up` asks for the host tools the lab needs, and only those.</summary>
public sealed class PreflightSpecs : IDisposable
{
    private readonly FakeLab _lab = new();

    public void Dispose() => _lab.Dispose();

    private const string Tarball = """
        lab: unit
        images:
          base: { bootstrap: tarball, tarball: ./root.tar }
        machines:
          m: { image: base }
        """;

    [Fact]
    public async Task A_lab_on_a_dir_pool_without_debootstrap_images_needs_neither_btrfs_nor_debootstrap()
    {
        File.WriteAllText(Path.Combine(_lab.Folder, "root.tar"), "");
        _lab.Host.MissingPrograms.UnionWith(["btrfs", "mkfs.btrfs", "debootstrap"]);

        var error = await Record.ExceptionAsync(() => _lab.UpAsync(_lab.Lab(Tarball)));

        Assert.DoesNotContain("cannot come up on this host", error?.Message ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_debootstrap_image_needs_debootstrap_and_up_says_so_before_it_makes_anything()
    {
        _lab.Host.MissingPrograms.UnionWith(["btrfs", "mkfs.btrfs", "debootstrap", "nft"]);

        var error = await Assert.ThrowsAsync<SpawnlabException>(() => _lab.UpAsync(_lab.Lab()));

        Assert.Contains("tools: missing: nft, debootstrap; fix: apt-get install nftables debootstrap", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("btrfs", error.Message, StringComparison.Ordinal);
        Assert.Empty(_lab.Host.Links);
    }
}
