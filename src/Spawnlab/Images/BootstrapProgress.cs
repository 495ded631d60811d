namespace Spawnlab.Images;

/// <summary>debootstrap's phase and count, read from its output: "I: Retrieving curl 7.88.1-10", "I: Unpacking curl…"</summary>
public static class BootstrapProgress
{
    private static readonly (string Verb, string Phase)[] Phases =
    [
        ("Retrieving", "retrieving"), ("Validating", "validating"), ("Extracting", "extracting"),
        ("Unpacking", "unpacking"), ("Configuring", "configuring"),
    ];

    /// <summary>"unpacking 12/87 packages" (the total is what was retrieved), or null before the first package.</summary>
    public static string? Of(string output)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        string? phase = null;
        foreach (var line in output.Split('\n'))
        {
            var words = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // One package per line: "I: Retrieving NAME VERSION" (also Validating), "I: Unpacking NAME..." (also
            // Extracting, Configuring); "I: Retrieving Packages" and "I: Unpacking the base system..." are none.
            var package = words is ["I:", "Retrieving" or "Validating", _, _]
                || words is ["I:", "Extracting" or "Unpacking" or "Configuring", var name] && name.EndsWith("...", StringComparison.Ordinal);
            if (package && Phases.FirstOrDefault(p => p.Verb == words[1]).Phase is { } found)
            {
                counts[found] = counts.GetValueOrDefault(found) + 1;
                phase = found;
            }
        }
        if (phase is null)
            return null;
        var total = counts.GetValueOrDefault("retrieving");
        return phase == "retrieving" || total == 0 ? $"{phase} {counts[phase]} packages" : $"{phase} {Math.Min(counts[phase], total)}/{total} packages";
    }
}
