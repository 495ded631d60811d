using Spawnlab.Images;
using Spawnlab.Labs;

namespace Spawnlab.Tests.Images;

public sealed class HostMirrorSpecs
{
    [Fact]
    public void The_mirror_is_read_from_a_deb822_sources_file()
    {
        const string sources = """
            Types: deb
            # a comment
            URIs: http://mirror.example/debian
            Suites: bookworm bookworm-updates
            Components: main

            Types: deb
            URIs: http://security.example/debian-security
            Suites: bookworm-security
            """;
        Assert.Equal("http://mirror.example/debian", HostMirror.FromDeb822(sources, "bookworm"));
        Assert.Null(HostMirror.FromDeb822(sources, "trixie"));
    }

    [Fact]
    public void The_mirror_is_read_from_a_one_line_sources_file() =>
        Assert.Equal("http://ftp.example/debian", HostMirror.FromOneLine("deb [arch=amd64] http://ftp.example/debian bookworm main\n", "bookworm"));
}
