using Spawnlab.Labs;

namespace Spawnlab.Tests.Labs;

/// <summary>Lab files written into a temporary folder, so that relative paths in them resolve.</summary>
internal sealed class LabFiles : IDisposable
{
    public const string Valid = """
        lab: prolo
        images:
          base:
            bootstrap: debootstrap
            suite: bookworm
            packages: [systemd-sysv, dbus, iproute2]
        networks:
          lan:
            subnet: 10.0.0.0/24
            host: 10.0.0.1
            nat: true
        machines:
          gw:
            image: base
            networks:
              lan: { address: 10.0.0.254/24, gateway: 10.0.0.1 }
            tmpfs: [ /var/tmp ]
          web:
            image: base
            networks:
              lan: { address: 10.0.0.10/24 }
        """;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "spawnlab-specs-" + Guid.NewGuid().ToString("N")[..8]);

    public LabFiles() => System.IO.Directory.CreateDirectory(Directory);

    public string Write(string text, string name = "lab.yaml")
    {
        var path = Path.Combine(Directory, name);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public LabDefinition Parse(string text) => LabParser.ParseFile(Write(text));

    /// <summary>Parses a lab that must be rejected and returns its errors.</summary>
    public IReadOnlyList<LabError> Errors(string text)
    {
        var error = Assert.Throws<LabFileException>(() => Parse(text));
        Assert.Equal(2, error.ExitCode);
        Assert.NotEmpty(error.Errors);
        return error.Errors;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
