using System.Globalization;

namespace Spawnlab.Host;

/// <summary>
/// Logs that a machine, a stage or a server fills (a machine can write to its console as fast as it likes, also after
/// <c>up</c> returned) are capped: a writer keeps the newest bytes in LOG and the half before them in LOG.1, so a log
/// never holds more than <see cref="Limit"/> bytes and the newest are always kept. The writer is a shell loop around
/// an unbuffered <c>head -c</c> (so the log is live) that outlives the CLI with the process it logs, and ends with it.
/// </summary>
public static partial class CappedLog
{
    public const long DefaultLimit = 16 * 1024 * 1024;

    /// <summary>At most this many bytes per log (SPAWNLAB_LOG_LIMIT, default 16 MiB).</summary>
    public static long Limit =>
        long.TryParse(Environment.GetEnvironmentVariable("SPAWNLAB_LOG_LIMIT"), NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit >= 2
            ? limit : DefaultLimit;

    /// <summary>Where the older half of a log goes once the log is cut; its presence says the log was cut.</summary>
    public static string Older(string logFile) => logFile + ".1";

    /// <summary>
    /// sh code, run with the log file as $0, that sends the rest of the script's output (and what it execs) to the
    /// log through the capping writer. A FIFO joins them; the writer removes it once both ends are open. The writer
    /// runs in a session of its own, holding none of the caller's descriptors, so that it neither dies with the
    /// terminal nor keeps the caller waiting for the end of its output.
    /// </summary>
    public static string Redirect(long? limit = null)
    {
        var half = ((limit ?? Limit) / 2).ToString(CultureInfo.InvariantCulture);
        // LOG becomes LOG.1 and a new, empty LOG takes its place, each by a rename: a reader never finds either missing.
        var rotate = "ln -f \"$0\" \"$0.1.new\" && mv -f \"$0.1.new\" \"$0.1\" && : > \"$0.new\" && mv -f \"$0.new\" \"$0\"";
        var writer = $"rm -f \"$1\"; while stdbuf -o0 head -c {half} >> \"$0\"; do [ \"$(wc -c < \"$0\")\" -ge {half} ] || exit 0; {rotate} || exit 1; done";
        return "f=$(mktemp -u \"$0.fifo.XXXXXX\") && mkfifo -m 600 \"$f\" || exit 125; " +
            $"setsid sh -c '{writer}' \"$0\" \"$f\" < \"$f\" > /dev/null 2>&1 3>&- & " +
            "exec > \"$f\" 2>&1; ";
    }

    /// <summary>
    /// sh code that runs "$@" with its output going where <see cref="Redirect"/> sent it, then gives the writer up to
    /// a second to write the end of it (a process the command left running may hold the log open for longer), and
    /// exits with the command's exit code.
    /// </summary>
    public const string RunThenDrain =
        "\"$@\"; s=$?; exec > /dev/null 2>&1; n=0; " +
        "while [ $n -lt 50 ] && [ -e /proc/$!/status ] && ! grep -q '^State:[[:space:]]*Z' /proc/$!/status; do sleep 0.02; n=$((n + 1)); done; exit $s";

    /// <summary>The whole of a log as it is kept: the older half first, when the log was cut.</summary>
    public static string Read(string logFile) => ReadIfThere(Older(logFile)) + ReadIfThere(logFile);

    private static string ReadIfThere(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return "";
        }
    }

    /// <summary>Whether the log lost its oldest part to the cap.</summary>
    public static bool WasCut(string logFile) => File.Exists(Older(logFile));

    /// <summary>The last lines of a log, indented, without terminal colours: what an error quotes of it.</summary>
    public static string Tail(string logFile, int lines = 15)
    {
        try
        {
            var text = Read(logFile).Split('\n').Select(l => Ansi().Replace(l, "").TrimEnd()).Where(l => l.Length > 0).TakeLast(lines);
            return string.Join(Environment.NewLine, text.Select(l => "  " + l));
        }
        catch (IOException)
        {
            return "  (no log)";
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;]*[A-Za-z]")]
    private static partial System.Text.RegularExpressions.Regex Ansi();
}
