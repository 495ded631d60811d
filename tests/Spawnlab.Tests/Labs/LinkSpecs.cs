using Spawnlab.Host;

namespace Spawnlab.Tests.Labs;

/// <summary>Host paths of a lab file are checked where they lead, links resolved, not where they are written.</summary>
public sealed class LinkSpecs : IDisposable
{
    private readonly LabFiles _files = new();
    private readonly string _outside = Directory.CreateTempSubdirectory("spawnlab-outside-").FullName;

    public void Dispose()
    {
        _files.Dispose();
        Directory.Delete(_outside, recursive: true);
    }

    private static string With(string machineKeys) =>
        LabFiles.Valid.Replace("    tmpfs: [ /var/tmp ]\n", $"    tmpfs: [ /var/tmp ]\n{machineKeys}\n", StringComparison.Ordinal);

    [Fact]
    public void A_bind_a_file_to_copy_and_a_password_file_that_are_links_out_of_the_lab_s_folder_are_refused()
    {
        File.WriteAllText(Path.Combine(_outside, "shadow"), "root:x");
        File.CreateSymbolicLink(Path.Combine(_files.Directory, "rootlink"), _outside);
        File.CreateSymbolicLink(Path.Combine(_files.Directory, "shadowlink"), Path.Combine(_outside, "shadow"));
        Directory.CreateDirectory(Path.Combine(_files.Directory, "secrets"));
        File.CreateSymbolicLink(Path.Combine(_files.Directory, "secrets", "root"), "../rootlink/shadow");

        var errors = _files.Errors(With("""
                binds: [ "./rootlink:/mnt" ]
                root_password_file: ./secrets/root
                stages:
                  - name: s
                    files: { /etc/copied: ./shadowlink }
            """));

        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Message.Contains($"host path './rootlink' is a symbolic link to {_outside}, outside the lab file's folder", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains($"host path './shadowlink' is a symbolic link to {_outside}/shadow, outside", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Message.Contains($"host path './secrets/root' is a symbolic link to {_outside}/shadow, outside", StringComparison.Ordinal));
    }

    [Fact]
    public void A_link_that_stays_inside_the_lab_s_folder_is_fine()
    {
        Directory.CreateDirectory(Path.Combine(_files.Directory, "real"));
        File.CreateSymbolicLink(Path.Combine(_files.Directory, "inner"), "real");

        var lab = _files.Parse(With("""
                binds: [ "./inner:/mnt" ]
            """));

        Assert.Equal(Path.Combine(_files.Directory, "inner"), lab.Machines["gw"].Binds.Single().HostPath);
    }

    [Fact]
    public void A_real_path_resolves_relative_and_absolute_links_and_dot_dot_after_them()
    {
        Directory.CreateDirectory(Path.Combine(_outside, "a", "b"));
        File.CreateSymbolicLink(Path.Combine(_outside, "rel"), "a/b");
        File.CreateSymbolicLink(Path.Combine(_outside, "abs"), Path.Combine(_outside, "a"));

        Assert.Equal(Path.Combine(_outside, "a", "b", "x"), RealPath.Of(Path.Combine(_outside, "rel", "x")));
        Assert.Equal(Path.Combine(_outside, "a"), RealPath.Of(Path.Combine(_outside, "rel", "..")));
        Assert.Equal(Path.Combine(_outside, "a", "b"), RealPath.Of(Path.Combine(_outside, "abs", "b")));
        Assert.True(RealPath.IsWithin(Path.Combine(_outside, "rel"), _outside));
        Assert.False(RealPath.IsWithin(Path.Combine(_outside, "rel", "..", ".."), Path.Combine(_outside, "a")));
    }

    [Theory]
    [InlineData("root:$y$j9T$0123456789abcdefghij:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")]
    [InlineData("a-secret-token-0123456789\n")]
    public void A_lab_file_that_is_a_link_to_a_secret_is_not_quoted_back_in_its_errors(string secret)
    {
        File.WriteAllText(Path.Combine(_outside, "shadow"), secret);
        File.CreateSymbolicLink(Path.Combine(_files.Directory, "lab.yaml"), Path.Combine(_outside, "shadow"));

        var error = Assert.Throws<Spawnlab.Labs.LabFileException>(() => Spawnlab.Labs.LabParser.ParseFile(Path.Combine(_files.Directory, "lab.yaml")));

        Assert.All(error.Errors, e => Assert.DoesNotContain("0123456789", e.Message, StringComparison.Ordinal));
    }
}
