using Spawnlab.Images;
using Spawnlab.Labs;

namespace Spawnlab.Tests.Images;

/// <summary>An image is made again exactly when what it is made of changes; debootstrap images keep the keys they had.</summary>
public sealed class ImageKeySpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("spawnlab-imagekeys-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static readonly Dictionary<string, ImageDefinition> None = [];

    private static ImageDefinition Debootstrapped(params string[] packages) => new("base", "debootstrap", "bookworm", null, packages, null);

    [Fact]
    public void A_debootstrap_key_changes_with_its_definition_and_not_with_package_order()
    {
        var a = Debootstrapped("curl", "nginx");
        Assert.Equal(ImageKeys.Of(a, None), ImageKeys.Of(a with { Packages = ["nginx", "curl"] }, None));
        Assert.NotEqual(ImageKeys.Of(a, None), ImageKeys.Of(a with { Setup = "echo hi" }, None));
        Assert.NotEqual(ImageKeys.Of(a, None), ImageKeys.Of(a with { Suite = "trixie" }, None));
    }

    [Fact]
    public void A_debootstrap_key_is_the_one_images_had_before_other_methods_existed()
    {
        // The host tests' image, bootstrapped by earlier versions under this key.
        var image = new ImageDefinition("base", "debootstrap", "bookworm", null, ["iputils-ping", "curl", "netcat-openbsd", "dnsmasq", "nginx-light"], "systemctl disable dnsmasq nginx");
        Assert.Equal("base-b2d8eb0dce79441d", ImageKeys.FolderName(image, None));
    }

    [Fact]
    public void A_tarball_key_follows_its_content_not_its_name_or_time()
    {
        var first = Path.Combine(_folder, "a.tar");
        var second = Path.Combine(_folder, "b.tar");
        File.WriteAllText(first, "one");
        File.WriteAllText(second, "one");
        var image = new ImageDefinition("rootfs", "tarball", "bookworm", null, [], null) { Tarball = first };
        var key = ImageKeys.Of(image, None);

        Assert.Equal(key, ImageKeys.Of(image with { Tarball = second }, None));
        File.WriteAllText(second, "two");
        Assert.NotEqual(key, ImageKeys.Of(image with { Tarball = second }, None));
    }

    [Fact]
    public void A_command_key_follows_the_command_and_the_names_modes_and_contents_of_its_inputs()
    {
        var scripts = Directory.CreateDirectory(Path.Combine(_folder, "scripts")).FullName;
        File.WriteAllText(Path.Combine(scripts, "install.sh"), "echo one");
        var image = new ImageDefinition("sadm", "command", "bookworm", null, [], null) { Command = "./scripts/install.sh \"$ROOT\"", Inputs = [scripts], Directory = _folder };
        var keys = new List<string> { ImageKeys.Of(image, None) };

        keys.Add(ImageKeys.Of(image with { Command = "./scripts/install.sh \"$ROOT\" --fast" }, None));
        File.WriteAllText(Path.Combine(scripts, "install.sh"), "echo two");
        keys.Add(ImageKeys.Of(image, None));
        File.SetUnixFileMode(Path.Combine(scripts, "install.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        keys.Add(ImageKeys.Of(image, None));
        File.WriteAllText(Path.Combine(scripts, "more.sh"), "");
        keys.Add(ImageKeys.Of(image, None));

        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.Equal(keys[^1], ImageKeys.Of(image, None));
    }

    [Fact]
    public void A_derived_key_follows_its_parent()
    {
        var parent = Debootstrapped("curl");
        var web = new ImageDefinition("web", "from", "bookworm", null, ["nginx-light"], null) { From = "base" };
        var key = ImageKeys.Of(web, new Dictionary<string, ImageDefinition> { ["base"] = parent });

        Assert.NotEqual(key, ImageKeys.Of(web, new Dictionary<string, ImageDefinition> { ["base"] = parent with { Packages = ["wget"] } }));
        Assert.NotEqual(key, ImageKeys.Of(web with { Packages = [] }, new Dictionary<string, ImageDefinition> { ["base"] = parent }));
    }

    [Fact]
    public void Debootstrap_progress_is_its_phase_and_a_count_of_packages()
    {
        var output = """
            I: Retrieving InRelease
            I: Retrieving Packages
            I: Validating Packages
            I: Resolving dependencies of required packages...
            I: Retrieving base-files 12.4+deb12u5
            I: Retrieving bash 5.2.15-2+b2
            I: Retrieving curl 7.88.1-10+deb12u5
            I: Validating base-files 12.4+deb12u5
            """;
        Assert.Equal("validating 1/3 packages", BootstrapProgress.Of(output));
        Assert.Equal("retrieving 3 packages", BootstrapProgress.Of(output[..output.IndexOf("I: Validating base", StringComparison.Ordinal)]));
        Assert.Equal("unpacking 2/3 packages", BootstrapProgress.Of(output + "\nI: Unpacking the base system...\nI: Unpacking base-files...\nI: Unpacking bash...\n"));
        Assert.Null(BootstrapProgress.Of("I: Retrieving InRelease\nI: Checking Release signature\n"));
    }

    [Fact]
    public void The_progress_of_a_real_debootstrap_counts_its_packages_through_every_phase()
    {
        // The output of debootstrap --variant=minbase --include=systemd bookworm on Debian 12 (1.0.128).
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Images", "debootstrap.log"));
        var seen = Enumerable.Range(1, lines.Length).Select(n => BootstrapProgress.Of(string.Join('\n', lines.Take(n)))).Distinct().ToList();

        Assert.Contains("retrieving 100 packages", seen);
        Assert.Contains("validating 100/100 packages", seen);
        Assert.Contains("extracting 88/100 packages", seen);
        Assert.Contains("unpacking 50/100 packages", seen);
        Assert.Equal("configuring 100/100 packages", seen[^1]);
    }

    [Fact]
    public void A_tarball_s_single_top_folder_is_its_root_unless_it_is_a_folder_of_a_root()
    {
        var root = Directory.CreateDirectory(Path.Combine(_folder, "root")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "root.x86_64", "etc"));
        Assert.Equal(Path.Combine(root, "root.x86_64"), ImageMethods.SingleTopFolder(root));

        Directory.Delete(Path.Combine(root, "root.x86_64"), recursive: true);
        Directory.CreateDirectory(Path.Combine(root, "usr"));
        Assert.Null(ImageMethods.SingleTopFolder(root));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Assert.Null(ImageMethods.SingleTopFolder(root));
    }

    [Fact]
    public void A_root_without_systemd_or_os_release_is_refused_with_what_it_lacks()
    {
        var root = Directory.CreateDirectory(Path.Combine(_folder, "bare")).FullName;
        Assert.Equal(
            "no systemd (/usr/lib/systemd/systemd): machines boot with systemd as their init; install systemd in the root; no /etc/os-release or /usr/lib/os-release: systemd needs one to boot",
            ImageStore.Unbootable(root));
        Directory.CreateDirectory(Path.Combine(root, "usr/lib/systemd"));
        File.WriteAllText(Path.Combine(root, "usr/lib/systemd/systemd"), "");
        File.WriteAllText(Path.Combine(root, "usr/lib/os-release"), "ID=arch\n");
        Assert.Null(ImageStore.Unbootable(root));
    }
}
