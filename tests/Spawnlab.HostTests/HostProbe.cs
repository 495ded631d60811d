using System.Diagnostics;
using Spawnlab.Host;
using Spawnlab.Networks;
using Spawnlab.State;

namespace Spawnlab.HostTests;

/// <summary>Looks at the host from outside Spawnlab, to assert what exists and what does not.</summary>
public static class HostProbe
{
    private static readonly CliWrapShell Shell = new();

    public static async Task<string> RunAsync(params string[] command)
    {
        var result = await Shell.RunAsync(HostCommand.Of(command[0], command[1..]).WithoutThrowing(), CancellationToken.None);
        return result.StandardOutput + result.StandardError;
    }

    public static async Task<bool> LinkExistsAsync(string name) =>
        (await Shell.RunAsync(HostCommand.Of("ip", "link", "show", "dev", name).WithoutThrowing(), CancellationToken.None)).Succeeded;

    public static async Task<bool> NftTableExistsAsync(string table) =>
        (await Shell.RunAsync(HostCommand.Of("nft", "list", "table", "ip", table).WithoutThrowing(), CancellationToken.None)).Succeeded;

    /// <summary>Live (not zombie) systemd-nspawn processes whose command line names a machine of this lab.</summary>
    public static IReadOnlyList<int> NspawnProcesses(string lab) =>
        [.. ProcessesNamed("systemd-nspawn")
            .Where(p => p.CommandLine.Split(' ').Any(a => a.StartsWith("--machine=", StringComparison.Ordinal) && a.EndsWith($".{lab}", StringComparison.Ordinal)))
            .Select(p => p.Pid)];

    /// <summary>Live processes whose executable has this name, with their command lines.</summary>
    public static IReadOnlyList<(int Pid, string CommandLine)> ProcessesNamed(string name)
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                if (stat[(stat.LastIndexOf(')') + 2)] is 'Z' or 'X')
                    continue;
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (Path.GetFileName(cmdline[0]) == name)
                    found.Add((pid, string.Join(' ', cmdline)));
            }
            catch (IOException)
            {
            }
        }
        return found;
    }

    /// <summary>Live processes (pid and command line) whose command line names one of <paramref name="paths"/>.</summary>
    public static IReadOnlyList<(int Pid, string CommandLine)> ProcessesMentioning(params IReadOnlyList<string> paths)
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId)
                continue;
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (paths.Any(p => cmdline.Contains(p, StringComparison.Ordinal)))
                    found.Add((pid, cmdline));
            }
            catch (IOException)
            {
            }
        }
        return found;
    }

    /// <summary>Kills what <see cref="ProcessesMentioning"/> finds: what a daemon of a test left when it stopped.</summary>
    public static void KillProcessesMentioning(params IReadOnlyList<string> paths)
    {
        foreach (var (pid, _) in ProcessesMentioning(paths))
        {
            try
            {
                Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    public static IReadOnlyList<string> MountsUnder(string path) =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(path, StringComparison.Ordinal)).ToList();

    /// <summary>Everything a lab could leave on the host, described; empty when nothing is left.</summary>
    public static async Task<IReadOnlyList<string>> LeftoversAsync(string lab, IEnumerable<string> networks, IEnumerable<string> machines, string poolRoot)
    {
        var left = new List<string>();
        left.AddRange(NspawnProcesses(lab).Select(p => $"systemd-nspawn pid {p}"));
        left.AddRange(ProcessesNamed("dnsmasq").Where(p => p.CommandLine.Contains($"/labs/{lab}/", StringComparison.Ordinal)).Select(p => $"dnsmasq pid {p.Pid}"));
        left.AddRange(ProcessesNamed("qemu-system-x86_64").Where(p => p.CommandLine.Contains($"guest=", StringComparison.Ordinal) && p.CommandLine.Contains($".{lab} ", StringComparison.Ordinal)).Select(p => $"qemu pid {p.Pid}"));
        foreach (var network in networks)
        {
            if (await LinkExistsAsync(HostNames.Bridge(lab, network)))
                left.Add($"bridge {HostNames.Bridge(lab, network)}");
            foreach (var machine in machines)
            {
                if (await LinkExistsAsync(HostNames.HostVeth(lab, machine, network)))
                    left.Add($"veth {HostNames.HostVeth(lab, machine, network)}");
            }
        }
        var namespaces = await RunAsync("ip", "netns", "list");
        foreach (var machine in machines)
        {
            if (namespaces.Contains(HostNames.Namespace(lab, machine), StringComparison.Ordinal))
                left.Add($"netns {HostNames.Namespace(lab, machine)}");
        }
        foreach (var hierarchy in Real.Host.Cgroups.Hierarchies())
        {
            foreach (var machine in machines)
            {
                var cgroup = Path.Combine(hierarchy, $"{Spawnlab.Host.MachineCgroup.Prefix}{lab}-{machine}");
                if (Directory.Exists(cgroup))
                    left.Add($"cgroup {cgroup}");
            }
        }
        if (await NftTableExistsAsync(HostNames.NftTable(lab)))
            left.Add($"nft table {HostNames.NftTable(lab)}");
        var labDirectory = Path.Combine(poolRoot, "labs", lab);
        if (Directory.Exists(labDirectory) && Directory.EnumerateFileSystemEntries(labDirectory, "*", SearchOption.AllDirectories).Any(e => Path.GetFileName(e) is not "machines"))
            left.Add($"roots under {labDirectory}");
        left.AddRange(MountsUnder(labDirectory).Select(m => $"mount {m}"));
        return left;
    }

    /// <summary>
    /// The spawnlab CLI as a user runs it: the published native executable that SPAWNLAB_CLI names (scripts/test
    /// publishes it), else the build's spawnlab.dll through dotnet.
    /// </summary>
    public static IReadOnlyList<string> Cli { get; } =
        Environment.GetEnvironmentVariable("SPAWNLAB_CLI") is { Length: > 0 } native ? [native] : ["dotnet", Path.Combine(AppContext.BaseDirectory, "spawnlab.dll")];

    /// <summary>The spawnlab CLI with the given state directory, its output redirected.</summary>
    public static ProcessStartInfo CliStartInfo(string stateDirectory, IEnumerable<string> arguments) =>
        new(Cli[0], [.. Cli.Skip(1), $"--state-dir={stateDirectory}", .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // `inventory` installs Spawnlab's Ansible collection where Ansible looks: here, a folder of the test run's.
            Environment = { ["ANSIBLE_COLLECTIONS_PATH"] = Path.Combine(Path.GetTempPath(), "spawnlab-hosttests-collections") },
        };

    /// <summary>
    /// The built CLI on a terminal of its own (script(1) makes one), typed <paramref name="typed"/> a piece at a time:
    /// the first after three seconds, each next two seconds later. Returns what the terminal showed.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> CliOnTerminalAsync(string stateDirectory, IReadOnlyList<string> typed, params string[] arguments)
    {
        var cli = CliStartInfo(stateDirectory, arguments);
        var command = string.Join(' ', cli.ArgumentList.Prepend(cli.FileName).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        var info = new ProcessStartInfo("script", ["-qfec", command, "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        foreach (var piece in typed)
        {
            await process.StandardInput.WriteAsync(piece);
            await process.StandardInput.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // A CLI that never left its terminal goes with it, not left attached to the machine.
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output + await error);
    }

    /// <summary>
    /// A program run with one more environment variable (LXD_DIR, LXD_CONF: which daemon or client folder) and what
    /// it reads on its input: its exit code, and its output and errors together.
    /// </summary>
    public static async Task<(int Code, string Output)> RunWithAsync((string Name, string Value) variable, string? input, string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { [variable.Name] = variable.Value },
        };
        using var process = Process.Start(info)!;
        if (input is not null)
            await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>The CLI with one more environment variable (how a daemon is found: LXD_DIR, LXD_CONF); its output and errors together.</summary>
    public static async Task<(int Code, string Output)> CliWithAsync(string stateDirectory, (string Name, string Value) variable, params string[] arguments)
    {
        var info = CliStartInfo(stateDirectory, arguments);
        info.Environment[variable.Name] = variable.Value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> CliAsync(string stateDirectory, string? stdin, params string[] arguments)
    {
        var info = CliStartInfo(stateDirectory, arguments);
        info.RedirectStandardInput = true;
        using var process = Process.Start(info)!;
        if (stdin is not null)
            await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
