using System.Text.RegularExpressions;

namespace Spawnlab.Tests.Host;

/// <summary>
/// The host is reached through Host/ only: no other file of the library reads /proc, /sys or /run itself, or calls into
/// libc. A line that names such paths inside a machine says so ("// paths inside a machine").
/// </summary>
public sealed partial class HostBoundarySpecs
{
    private static string Sources()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Spawnlab.slnx")))
            directory = directory.Parent;
        return Path.Combine(directory?.FullName ?? throw new InvalidOperationException("the repository is not above the tests"), "src");
    }

    [Fact]
    public void No_file_outside_Host_touches_proc_sys_run_or_PInvoke()
    {
        var src = Sources();
        var offenders = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.StartsWith(Path.Combine(src, "Spawnlab", "Host") + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(src, f), Line: i + 1, Text: line)))
            .Where(l => (HostPath().IsMatch(l.Text) && !l.Text.EndsWith("// paths inside a machine", StringComparison.Ordinal))
                || l.Text.Contains("LibraryImport", StringComparison.Ordinal) || l.Text.Contains("DllImport", StringComparison.Ordinal))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();

        Assert.True(Directory.Exists(Path.Combine(src, "Spawnlab", "Host")));
        Assert.Empty(offenders);
    }

    // A string that starts with a host path of the kernel's: "/proc/...", $"/sys/...", "/run".
    [GeneratedRegex("""\$?"/(proc|sys|run)(/|")""")]
    private static partial Regex HostPath();
}
