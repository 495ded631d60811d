namespace Spawnlab.Host;

/// <summary>The end of a command's output on one line, as errors quote it (a log file's end is <see cref="CappedLog.Tail"/>).</summary>
public static class OutputTail
{
    /// <summary>The last <paramref name="lines"/> non-empty lines joined with " / ", cut at <paramref name="maxLength"/> characters.</summary>
    public static string Of(string text, int lines, int maxLength = 1000)
    {
        var tail = string.Join(" / ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(lines));
        return tail.Length > maxLength ? tail[..maxLength] + "…" : tail;
    }
}
