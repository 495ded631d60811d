using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>
/// Whether an object that a lab's state names is one the lab made. A state file is only a file: edited by hand, by
/// mistake or by someone else, it must not make Spawnlab remove an interface, a table, a namespace, a cgroup or a
/// process of the host or of another lab. So an object is the lab's only if its name is the one Spawnlab derives from
/// the lab's own names, no other lab records it, and what can carry a proof carries it: a bridge has the MAC
/// Spawnlab gave it, a process runs a machine or the dnsmasq of this lab. Paths are the pool's to check.
/// </summary>
public sealed class Ownership(IHost host, IMachineRuntime runtime)
{
    /// <summary>Why <paramref name="obj"/> is not the lab's to remove, or null when it is.</summary>
    public string? Refusal(LabState state, HostObject obj, string labStateDirectory, IEnumerable<LabState> otherLabs)
    {
        var lab = state.Lab;
        var refusal = obj.Kind switch
        {
            HostObjectKind.Bridge => BridgeRefusal(state, obj.Name),
            HostObjectKind.NetworkNamespace => state.Machines.Keys.Any(m => HostNames.Namespace(lab, m) == obj.Name)
                ? null : $"it is not the network namespace of a machine of lab {lab}",
            HostObjectKind.NftTable => obj.Name == HostNames.NftTable(lab) ? null : $"lab {lab}'s table is {HostNames.NftTable(lab)}",
            HostObjectKind.Cgroup => state.Machines.Keys.Any(m => host.Cgroups.For(lab, m).Contains(obj.Name))
                ? null : $"it is not the cgroup of a machine of lab {lab}",
            HostObjectKind.Process => !int.TryParse(obj.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid) || pid <= 1
                ? "it is not a pid a lab could have started"
                : obj.StartTicks is { } ticks ? ProcessRefusal(state, new HostProcess(pid, ticks), labStateDirectory) : null,
            _ => null,
        };
        if (refusal is null && obj.Kind != HostObjectKind.Root && otherLabs.FirstOrDefault(o => o.Lab != lab && o.Objects.Any(x => x.Kind == obj.Kind && x.Name == obj.Name)) is { } other)
            refusal = $"lab {other.Lab} records it too";
        return refusal;
    }

    /// <summary>Why the recorded process of a machine is not one to signal (a pid and start time that name another process), or null.</summary>
    public string? MachineProcessRefusal(LabState state, MachineState machine, HostProcess process) =>
        host.Processes.Arguments(process) is { Count: > 0 } arguments && runtime.MachineOf(arguments, state.Lab) != machine.Name
            ? $"pid {process.Pid} runs `{string.Join(' ', arguments.Take(3))}…`, not machine {machine.Name} of lab {state.Lab}"
            : null;

    /// <summary>Why a host veth that a machine's state names is not the lab's, or null.</summary>
    public static string? VethRefusal(LabState state, MachineState machine, InterfaceState iface) =>
        iface.HostVeth == HostNames.HostVeth(state.Lab, machine.Name, iface.Network)
            ? null : $"{iface.HostVeth} is not the veth of machine {machine.Name} of lab {state.Lab} on network {iface.Network}";

    private string? BridgeRefusal(LabState state, string name)
    {
        var network = state.Networks.Keys.FirstOrDefault(n => HostNames.Bridge(state.Lab, n) == name);
        if (network is null)
            return $"it is not the bridge of a network of lab {state.Lab}";
        return host.MacOf(name) is not { } mac || mac == HostNames.BridgeMac(state.Lab, network)
            ? null : $"its MAC {mac} is not the one Spawnlab gives it";
    }

    private string? ProcessRefusal(LabState state, HostProcess process, string labStateDirectory)
    {
        var arguments = host.Processes.Arguments(process);
        if (arguments.Count == 0)
            return null;
        var ours = (runtime.MachineOf(arguments, state.Lab) is { } machine && state.Machines.ContainsKey(machine))
            || (Path.GetFileName(arguments[0]) == "dnsmasq" && arguments.Any(a => a.StartsWith($"--conf-file={labStateDirectory}/", StringComparison.Ordinal)));
        return ours ? null : $"pid {process.Pid} runs `{string.Join(' ', arguments.Take(3))}…`, not a machine or the dnsmasq of lab {state.Lab}";
    }
}
