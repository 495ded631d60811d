namespace Spawnlab.Host;

/// <summary>A path with every symbolic link on the way resolved, as realpath(3) gives it.</summary>
public static class RealPath
{
    private const int MaxLinks = 40;

    /// <summary>The canonical form of a path; what does not exist is kept as written. '..' applies after the link before it is resolved.</summary>
    public static string Of(string path)
    {
        var absolute = Path.IsPathRooted(path) ? path : Path.Combine(Environment.CurrentDirectory, path);
        var pending = new Stack<string>(absolute.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var current = "/";
        var links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == ".")
                continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }
            var next = Path.Combine(current, part);
            if (new FileInfo(next).LinkTarget is { } target)
            {
                if (++links > MaxLinks)
                    throw new SpawnlabException($"too many symbolic links resolving {path}");
                foreach (var inner in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
                    pending.Push(inner);
                if (target.StartsWith('/'))
                    current = "/";
                continue;
            }
            current = next;
        }
        return current;
    }

    /// <summary>Whether <paramref name="path"/>, links resolved, lies in or below <paramref name="folder"/>, links resolved.</summary>
    public static bool IsWithin(string path, string folder)
    {
        var relative = Path.GetRelativePath(Of(folder), Of(path));
        return relative != ".." && !relative.StartsWith("../", StringComparison.Ordinal) && !Path.IsPathRooted(relative);
    }
}
