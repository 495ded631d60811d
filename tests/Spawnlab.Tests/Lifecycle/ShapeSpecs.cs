using System.Text.RegularExpressions;

namespace Spawnlab.Tests.Lifecycle;

/// <summary>The lifecycle stays readable: no file of LabController over 300 lines, no method of it over 60.</summary>
public sealed partial class ShapeSpecs
{
    private static IEnumerable<string> ControllerFiles()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Spawnlab.slnx")))
            directory = directory.Parent;
        var lifecycle = Path.Combine(directory?.FullName ?? throw new InvalidOperationException("the repository is not above the tests"), "src", "Spawnlab", "Lifecycle");
        return Directory.EnumerateFiles(lifecycle, "LabController*.cs");
    }

    [Fact]
    public void No_file_of_LabController_is_over_300_lines()
    {
        var files = ControllerFiles().ToList();

        Assert.NotEmpty(files);
        Assert.Empty(files.Where(f => File.ReadAllLines(f).Length > 300).Select(Path.GetFileName));
    }

    [Fact]
    public void No_method_of_LabController_is_over_60_lines()
    {
        var long_ = new List<string>();
        foreach (var file in ControllerFiles())
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                // A member with a block body: its signature at class depth, then "    {" ... "    }".
                if (!Member().IsMatch(lines[i]))
                    continue;
                var open = Array.FindIndex(lines, i, l => l == "    {" || l.EndsWith(';') || l.Contains("=>", StringComparison.Ordinal));
                if (open < 0 || lines[open] != "    {")
                    continue;
                var close = Array.IndexOf(lines, "    }", open);
                if (close - i + 1 > 60)
                    long_.Add($"{Path.GetFileName(file)}:{i + 1} ({close - i + 1} lines)");
                i = close;
            }
        }

        Assert.Empty(long_);
    }

    [GeneratedRegex(@"^    (public|private|internal|protected)\b.*\(")]
    private static partial Regex Member();
}
