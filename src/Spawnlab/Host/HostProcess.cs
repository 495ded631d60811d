using System.Globalization;
using Spawnlab.Host.Interop;

namespace Spawnlab.Host;

/// <summary>
/// A process identified by its pid and its start time (in clock ticks since boot), so that a recorded pid
/// reused by an unrelated process after a crash or a reboot is never signalled.
/// </summary>
public sealed record HostProcess(int Pid, long StartTicks)
{
    public const int SigKill = 9;
    public const int SigTerm = 15;

    public static HostProcess? Find(int pid) => ReadStartTicks(pid) is { } ticks ? new HostProcess(pid, ticks) : null;

    public bool IsAlive => ReadStartTicks(Pid) == StartTicks && !IsZombie(Pid);

    /// <summary>Sends a signal if the process is still the one recorded; returns whether it was.</summary>
    public bool Signal(int signal) => IsAlive && Libc.Kill(Pid, signal) == 0;

    /// <summary>The process's command line, split into its arguments; empty once it is gone.</summary>
    public IReadOnlyList<string> Arguments()
    {
        try
        {
            return IsAlive ? File.ReadAllText($"/proc/{Pid}/cmdline").TrimEnd('\0').Split('\0') : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>The pids of this process's direct children.</summary>
    public IReadOnlyList<int> Children()
    {
        try
        {
            return File.ReadAllText($"/proc/{Pid}/task/{Pid}/children")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>
    /// Processes whose command line names <paramref name="path"/> or a path below it: what a killed CLI left working
    /// there (a cp making a snapshot, a debootstrap), which outlives its parent.
    /// </summary>
    public static IReadOnlyList<HostProcess> Naming(string path) =>
        Matching(arguments => arguments.Any(a => a == path || a.StartsWith(path + "/", StringComparison.Ordinal)));

    /// <summary>The live processes (but this one) whose command line, split into its arguments, satisfies the predicate.</summary>
    public static IReadOnlyList<HostProcess> Matching(Func<string[], bool> predicate)
    {
        var found = new List<HostProcess>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
                continue;
            try
            {
                if (predicate(File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0')) && Find(pid) is { IsAlive: true } process)
                    found.Add(process);
            }
            catch (IOException)
            {
            }
        }
        return found;
    }

    public Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        Poll.UntilAsync(() => !IsAlive, timeout, TimeSpan.FromMilliseconds(50), cancellationToken);

    private static long? ReadStartTicks(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        // The command name (field 2) may hold spaces and parentheses: fields are counted from the last ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[19], CultureInfo.InvariantCulture);
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is 'Z' or 'X';
        }
        catch (IOException)
        {
            return true;
        }
    }
}
