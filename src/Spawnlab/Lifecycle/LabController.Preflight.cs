using System.Net;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>The doctor's cheap checks, before anything is made: fail early with its advice instead of hanging.</summary>
    private async Task PreflightAsync(LabDefinition lab, CancellationToken cancellationToken)
    {
        var doctor = new Doctor.HostDoctor(host, options.StateDirectory);
        var findings = await doctor.ExamineAsync(cancellationToken);
        // Of the tools, only those this lab needs.
        findings = [.. findings.Where(f => f.Kind != Doctor.FindingKind.Tools), doctor.ToolsFinding(tool => NeedsTool(lab, tool))];
        var problems = new List<string>();
        foreach (var finding in findings.Where(f => f.Severity == Doctor.Severity.Problem))
        {
            switch (finding.Kind)
            {
                case Doctor.FindingKind.Inotify when lab.Machines.Count * Doctor.HostDoctor.InotifyInstancesPerMachine > (host.Sysctls.ReadInt("fs.inotify.max_user_instances") ?? 0):
                case Doctor.FindingKind.Tools:
                case Doctor.FindingKind.Cgroups:
                case Doctor.FindingKind.ForwardPolicy when lab.Networks.Count > 0:
                    problems.Add($"{finding.Check}: {finding.Detail}; fix: {finding.Advice}");
                    break;
            }
        }
        if (lab.Machines.Values.Any(m => m.Kind == MachineKind.Vm) && !host.HasProgram(QemuArguments.Program))
            problems.Add($"vm: machines of this lab are VMs, and {QemuArguments.Program} is not installed; fix: apt-get install qemu-system-x86 ipxe-qemu");
        if (lab.Machines.Values.Any(m => m.Stages.Any(s => s.Ansible is not null)) && !host.HasProgram("ansible-playbook"))
            problems.Add("ansible: stages of this lab run playbooks, and ansible-playbook is not installed; fix: apt-get install ansible-core (or ansible)");
        if (problems.Count > 0)
            throw new SpawnlabException($"lab {lab.Name} cannot come up on this host (`spawnlab doctor --fix` repairs what it can):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
    }

    /// <summary>
    /// Whether bringing the lab up needs a host tool: btrfs only for a btrfs pool (a new pool without it is made of
    /// folders, and `--driver btrfs` says so itself), debootstrap only for a debootstrap image.
    /// </summary>
    private bool NeedsTool(LabDefinition lab, string tool) => tool switch
    {
        "btrfs" or "mkfs.btrfs" => options.Driver == Pool.DriverChoice.Btrfs
            || new Pool.PoolOpener(host, options.StateDirectory).Existing()?.Driver.Name == "btrfs",
        "debootstrap" => lab.Images.Values.Any(i => i.Bootstrap == ImageDefinition.Debootstrap),
        _ => true,
    };

    /// <summary>
    /// Host names join the lab's and the machine's with '-', which both may hold: lab adv8-x's machine m1 and lab
    /// adv8's machine x-m1 would share a network namespace and cgroups. The second lab is refused before it makes anything.
    /// </summary>
    private void CheckNameClashes(LabDefinition lab)
    {
        foreach (var other in Store.LoadAll().Where(l => l.Lab != lab.Name))
        {
            foreach (var machine in lab.Machines.Keys)
            {
                var name = HostNames.Namespace(lab.Name, machine);
                if (other.Machines.Keys.FirstOrDefault(m => HostNames.Namespace(other.Lab, m) == name) is { } theirs)
                    throw new SpawnlabException(
                        $"machine {machine} of lab {lab.Name} would be named {name} on the host, as machine {theirs} of lab {other.Lab} is; rename one of them", exitCode: 2);
            }
        }
    }

    private async Task CheckHostClashesAsync(LabDefinition lab, LabState state, CancellationToken cancellationToken)
    {
        var ours = state.Networks.Values.Select(n => n.Bridge).ToHashSet(StringComparer.Ordinal);
        foreach (var (iface, cidr) in await _ip.HostAddressesAsync(cancellationToken))
        {
            if (ours.Contains(iface) || iface == "lo")
                continue;
            var address = IPAddress.Parse(cidr[..cidr.IndexOf('/')]);
            var prefix = int.Parse(cidr[(cidr.IndexOf('/') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            var hostNetwork = new IPNetwork(Ipv4.Mask(address, prefix), prefix);
            foreach (var network in lab.Networks.Values)
            {
                if (iface == HostNames.Bridge(lab.Name, network.Name))
                    throw new SpawnlabException(StateJournal.LeftBehind(lab.Name, $"interface {iface}, the bridge of network '{network.Name}',"));
                if (network.Subnet.Contains(address) || hostNetwork.Contains(network.Subnet.BaseAddress))
                    throw new SpawnlabException(
                        $"network '{network.Name}' of lab {lab.Name}: subnet {network.Subnet} clashes with {cidr} on host interface {iface}; choose another subnet", exitCode: 2);
            }
        }
    }
}
