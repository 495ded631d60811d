using Spawnlab.Labs;

namespace Spawnlab.HostTests;

/// <summary>Lab files for host tests. Every test lab uses the same image definition, so it is bootstrapped once per pool.</summary>
public sealed class TestLab : IDisposable
{
    public const string Image = """
        images:
          base:
            bootstrap: debootstrap
            suite: bookworm
            packages: [iputils-ping, curl, netcat-openbsd, dnsmasq, nginx-light]
            setup: systemctl disable dnsmasq nginx
        """;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "spawnlab-hosttest-" + Guid.NewGuid().ToString("N")[..8]);

    public TestLab() => System.IO.Directory.CreateDirectory(Directory);

    /// <summary>A unique lab name for one test, so that tests never share host objects.</summary>
    public static string Name(string stem) => $"{stem}{Random.Shared.Next(100, 999)}";

    public LabDefinition Write(string body, string file = "lab.yaml")
    {
        var path = Path.Combine(Directory, file);
        File.WriteAllText(path, body);
        return LabParser.ParseFile(path);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
