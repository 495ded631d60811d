using System.Globalization;
using Spawnlab.Host.Interop;

namespace Spawnlab.Host;

/// <summary>The host's processes as /proc shows them; signals go through kill(2).</summary>
public sealed class ProcProcessTable(IHostShell shell) : IProcessTable
{
    public HostProcess? Find(int pid) => ReadStartTicks(pid) is { } ticks ? new HostProcess(pid, ticks) : null;

    public bool IsAlive(HostProcess process) => ReadStartTicks(process.Pid) == process.StartTicks && !IsZombie(process.Pid);

    public bool Signal(HostProcess process, int signal) => IsAlive(process) && Libc.Kill(process.Pid, signal) == 0;

    public IReadOnlyList<string> Arguments(HostProcess process)
    {
        try
        {
            return IsAlive(process) ? File.ReadAllText($"/proc/{process.Pid}/cmdline").TrimEnd('\0').Split('\0') : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    public IReadOnlyList<int> Children(HostProcess process)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Pid}/task/{process.Pid}/children")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToList();
        }
        catch (IOException)
        {
            return [];
        }
    }

    public IReadOnlyList<HostProcess> Matching(Func<string[], bool> predicate)
    {
        var found = new List<HostProcess>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
                continue;
            try
            {
                if (predicate(File.ReadAllText(Path.Combine(directory, "cmdline")).Split('\0')) && Find(pid) is { } process && IsAlive(process))
                    found.Add(process);
            }
            catch (IOException)
            {
            }
        }
        return found;
    }

    public string? NamespaceOf(int? pid, string kind)
    {
        try
        {
            return new FileInfo($"/proc/{pid?.ToString(CultureInfo.InvariantCulture) ?? "self"}/ns/{kind}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public async Task<HostProcess> StartDetachedAsync(string program, IReadOnlyList<string> arguments, string logFile, CancellationToken cancellationToken)
    {
        // A background job of a non-interactive shell is not a process group leader, so setsid does not fork:
        // $! is the pid of the program itself.
        var output = await shell.OutputAsync(
            HostCommand.Of("sh", ["-c", "exec 3>&1; " + CappedLog.Redirect() + "setsid \"$@\" </dev/null 3>&- & echo $! >&3", logFile, program, .. arguments]),
            cancellationToken);
        var pid = int.Parse(output, CultureInfo.InvariantCulture);
        return Find(pid) ?? throw new SpawnlabException($"{program} exited at once; see {logFile}");
    }

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
