using System.Text.Json.Nodes;
using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Lxd;

/// <summary>
/// Machines as LXD system containers: the daemon runs them, its API says whether they run, and commands enter them
/// through <c>lxc exec</c> (the daemon's own client, which carries standard input, output and terminals).
/// </summary>
public sealed class LxdRuntime(IHostShell shell) : IMachineRuntime
{
    public MachineRunState RunState(MachineState machine)
    {
        if (machine.Lxd is not { } place)
            return MachineRunState.Stopped;
        try
        {
            using var client = LxdClient.For(place);
            var state = client.GetOrNullAsync(LxdClient.InProject($"/1.0/instances/{machine.Name}/state", place.Project), CancellationToken.None).GetAwaiter().GetResult();
            return state?["status"]?.GetValue<string>() == "Running" ? MachineRunState.Running : MachineRunState.Stopped;
        }
        catch (LxdException)
        {
            // A daemon that no longer answers runs nothing we can reach.
            return MachineRunState.Stopped;
        }
    }

    public MachineSession? SessionOf(MachineState machine) =>
        machine.Lxd is { } place && RunState(machine) == MachineRunState.Running ? new LxdSession(machine.Name, place, shell) : null;

    /// <summary>Starts the instance unless it runs, and waits until systemd inside says the boot finished.</summary>
    public async Task<MachineSession> BootAsync(MachineBoot boot, CancellationToken cancellationToken)
    {
        var machine = boot.Machine;
        var place = machine.Lxd ?? throw new InvalidOperationException($"machine {machine.Name} is not an LXD instance");
        using var client = LxdClient.For(place);
        var session = new LxdSession(machine.Name, place, shell);
        if (RunState(machine) != MachineRunState.Running)
        {
            boot.Report(new MachineStep.Booting());
            await client.SendAsync(HttpMethod.Put, LxdClient.InProject($"/1.0/instances/{machine.Name}/state", place.Project),
                new JsonObject { ["action"] = "start", ["timeout"] = 30 }, cancellationToken);
        }
        boot.Report(new MachineStep.Starting());
        // `is-system-running --wait` returns once the boot is over: running, or degraded when a unit failed.
        var ready = await Poll.UntilAsync(async token =>
        {
            var result = await shell.RunAsync(session.Enter(["systemctl", "is-system-running", "--wait"]).WithoutThrowing(), token);
            return result.StandardOutput.Trim() is "running" or "degraded";
        }, boot.Timeout, TimeSpan.FromMilliseconds(200), cancellationToken);
        if (!ready)
            throw new SpawnlabException($"machine {machine.Name} did not finish booting within {boot.Timeout.TotalSeconds:0} s (LXD instance {place.Project}/{machine.Name}; `lxc console --show-log` shows its console)");
        return session;
    }

    /// <summary>LXD instances are stopped through the API (<see cref="StopInstanceAsync"/>), not as host processes.</summary>
    public Task StopAsync(HostProcess process, TimeSpan timeout, CancellationToken cancellationToken) => Task.CompletedTask;

    public IReadOnlyList<(string Machine, HostProcess Process)> RunningOf(string lab) => [];

    public string? MachineOf(IReadOnlyList<string> arguments, string lab) => null;

    /// <summary>The IPv4 address (CIDR) of an interface of a running instance, as LXD reports it; null when it has none.</summary>
    public static async Task<string?> AddressAsync(LxdClient client, LxdPlace place, string machine, string iface, CancellationToken cancellationToken)
    {
        var state = await client.GetOrNullAsync(LxdClient.InProject($"/1.0/instances/{machine}/state", place.Project), cancellationToken);
        return state?["network"]?[iface]?["addresses"]?.AsArray()
            .FirstOrDefault(a => a?["family"]?.GetValue<string>() == "inet") is { } address
            ? $"{address["address"]!.GetValue<string>()}/{address["netmask"]!.GetValue<string>()}"
            : null;
    }

    /// <summary>Stops an instance: cleanly within <paramref name="timeout"/>, then forced (at once when it is zero).</summary>
    public static async Task StopInstanceAsync(LxdClient client, string project, string name, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var path = LxdClient.InProject($"/1.0/instances/{name}/state", project);
        var state = await client.GetOrNullAsync(path, cancellationToken);
        if (state?["status"]?.GetValue<string>() is not ("Running" or "Frozen"))
            return;
        if (timeout > TimeSpan.Zero)
        {
            try
            {
                await client.SendAsync(HttpMethod.Put, path, new JsonObject { ["action"] = "stop", ["timeout"] = (int)Math.Ceiling(timeout.TotalSeconds) }, cancellationToken);
                return;
            }
            catch (LxdException)
            {
                // Not stopped in time: forced below.
            }
        }
        await client.SendAsync(HttpMethod.Put, path, new JsonObject { ["action"] = "stop", ["force"] = true }, cancellationToken);
    }
}

/// <summary>A running LXD instance, entered through <c>lxc exec</c> with the daemon's socket.</summary>
public sealed record LxdSession(string Name, LxdPlace Place, IHostShell Shell) : MachineSession(Name)
{
    /// <summary>
    /// The lxc client aimed at the daemon, named in the command itself so that it is whole where a program of the host
    /// runs it (Ansible's connection): the socket's folder as LXD_DIR, or the remote's name with the client's folder.
    /// </summary>
    private IEnumerable<string> Lxc(string verb, params IEnumerable<string> arguments) =>
        Place.Remote is { } remote
            ? [$"LXD_CONF={LxdRemote.ConfigDirectory}", "lxc", verb, "--project", Place.Project, $"{remote}:{Name}", .. arguments]
            : [$"LXD_DIR={Path.GetDirectoryName(Place.Socket)}", "lxc", verb, "--project", Place.Project, Name, .. arguments];

    public override HostCommand Enter(IEnumerable<string> command) =>
        HostCommand.Of("env", [.. Lxc("exec", ["--", "env", "-i", .. NspawnRuntime.ExecEnvironment, .. command])]);

    /// <summary>
    /// As for any machine; a command cut short (a stage's timeout, Ctrl-C) is killed inside too. Killing `lxc exec`
    /// does not reach what the daemon started, so each command carries a mark in its environment, which its children
    /// inherit, and what bears the mark is killed.
    /// </summary>
    public override async Task<HostResult> RunAsync(IHostShell shell, MachineCommand command, CancellationToken cancellationToken)
    {
        var mark = $"SPAWNLAB_EXEC={Guid.NewGuid():N}";
        try
        {
            return await base.RunAsync(shell, command with { Arguments = [mark, .. command.Arguments] }, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await shell.RunAsync(Enter(["/bin/sh", "-c", KillMarked, "sh", mark]).WithStandardInput("").WithoutThrowing(), CancellationToken.None);
            throw;
        }
    }

    /// <summary>sh code that kills every process whose environment holds "$1".</summary>
    private const string KillMarked =
        "for p in /proc/[0-9]*; do [ \"${p#/proc/}\" = $$ ] && continue; tr '\\0' '\\n' < \"$p/environ\" 2>/dev/null | grep -qx \"$1\" && kill -KILL \"${p#/proc/}\" 2>/dev/null; done; exit 0";

    /// <summary>What the container's console printed since its boot, as LXD keeps it.</summary>
    public override string Console()
    {
        var result = Shell.RunAsync(HostCommand.Of("env", [.. Lxc("console", "--show-log")]).WithoutThrowing(), CancellationToken.None).GetAwaiter().GetResult();
        return result.StandardOutput;
    }

    /// <summary>An instance's root lives in the daemon's storage, perhaps on another member: host scripts get a staging folder.</summary>
    public override bool RootOnHost => false;
}
