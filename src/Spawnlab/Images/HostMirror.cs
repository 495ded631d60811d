namespace Spawnlab.Images;

/// <summary>The Debian mirror the host's apt uses, so that bootstrap goes where the host is allowed to go.</summary>
public static class HostMirror
{
    public const string Fallback = "http://deb.debian.org/debian";

    public static string Find(string suite)
    {
        foreach (var file in SourceFiles())
        {
            var text = File.ReadAllText(file);
            var found = file.EndsWith(".sources", StringComparison.Ordinal) ? FromDeb822(text, suite) : FromOneLine(text, suite);
            if (found is not null)
                return found;
        }
        return Fallback;
    }

    private static IEnumerable<string> SourceFiles()
    {
        if (File.Exists("/etc/apt/sources.list"))
            yield return "/etc/apt/sources.list";
        if (Directory.Exists("/etc/apt/sources.list.d"))
        {
            foreach (var file in Directory.EnumerateFiles("/etc/apt/sources.list.d").Order(StringComparer.Ordinal))
            {
                if (file.EndsWith(".sources", StringComparison.Ordinal) || file.EndsWith(".list", StringComparison.Ordinal))
                    yield return file;
            }
        }
    }

    internal static string? FromOneLine(string text, string suite)
    {
        foreach (var raw in text.Split('\n'))
        {
            var words = raw.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 3 || words[0] != "deb")
                continue;
            var rest = words.Skip(1).SkipWhile(w => w.StartsWith('[')).ToArray();
            if (rest.Length >= 2 && rest[1] == suite)
                return rest[0];
        }
        return null;
    }

    internal static string? FromDeb822(string text, string suite)
    {
        foreach (var paragraph in text.Split("\n\n"))
        {
            var fields = paragraph.Split('\n')
                .Where(l => !l.StartsWith('#') && l.Contains(':'))
                .Select(l => (Key: l[..l.IndexOf(':')].Trim(), Value: l[(l.IndexOf(':') + 1)..].Trim()))
                .GroupBy(f => f.Key, StringComparer.OrdinalIgnoreCase)
                .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.OrdinalIgnoreCase);
            if (fields.GetValueOrDefault("Types")?.Split(' ').Contains("deb") == true
                && fields.GetValueOrDefault("Suites")?.Split(' ').Contains(suite) == true
                && fields.GetValueOrDefault("URIs") is { } uris)
                return uris.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        }
        return null;
    }
}
