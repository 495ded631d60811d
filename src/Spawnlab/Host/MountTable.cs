using System.Text.RegularExpressions;

namespace Spawnlab.Host;

/// <summary>The mounts this process sees, read from /proc/self/mountinfo, the one place it is parsed.</summary>
public static partial class MountTable
{
    /// <summary>One mount: where, its filesystem type and its super-block options.</summary>
    public sealed record Mount(string MountPoint, string Type, IReadOnlyList<string> SuperOptions);

    public static IReadOnlyList<Mount> Read() => Parse(File.ReadAllLines("/proc/self/mountinfo"));

    /// <summary>
    /// Parses mountinfo lines: id parent major:minor root mount-point options [optional fields] - type source
    /// super-options. The kernel writes a space, tab, newline or backslash in a path as an octal escape (\040).
    /// </summary>
    public static IReadOnlyList<Mount> Parse(IEnumerable<string> lines)
    {
        var mounts = new List<Mount>();
        foreach (var line in lines)
        {
            var halves = line.Split(" - ", 2);
            var head = halves[0].Split(' ');
            if (halves.Length != 2 || head.Length < 5)
                continue;
            var tail = halves[1].Split(' ');
            mounts.Add(new Mount(Unescape(head[4]), tail[0], tail.Length > 2 ? tail[2].Split(',') : []));
        }
        return mounts;
    }

    private static string Unescape(string field) =>
        Octal().Replace(field, m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());

    [GeneratedRegex(@"\\([0-7]{3})")]
    private static partial Regex Octal();
}
