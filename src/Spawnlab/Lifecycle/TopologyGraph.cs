using System.Text;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>The lab's topology, drawn: uplink and NAT, bridges with the host's address, machines with their interfaces.</summary>
public static class TopologyGraph
{
    /// <summary>A lab file's topology as the graph draws a lab that is up: names, MACs and addresses as `up` would give them, every machine not up.</summary>
    public static (IReadOnlyList<LabState> Labs, IReadOnlyList<MachineStatus> Machines) FromFile(Labs.LabDefinition lab)
    {
        var state = new LabState { Lab = lab.Name, LabFile = lab.FilePath, PoolPath = "", Driver = "" };
        foreach (var network in lab.Networks.Values)
        {
            state.Networks[network.Name] = new NetworkState
            {
                Name = network.Name,
                Bridge = Networks.HostNames.Bridge(lab.Name, network.Name),
                Subnet = network.Subnet.ToString(),
                HostAddress = network.Host?.ToString(),
                Nat = network.Nat,
                Uplink = network.Uplink ?? "of the default route",
                Dhcp = network.Dhcp,
            };
        }
        var machines = lab.Machines.Values.OrderBy(m => m.Name, StringComparer.Ordinal).Select(m => new MachineStatus(
            lab.Name, m.Name, MachineRunState.NotUp,
            [.. m.Interfaces.Select(i => new InterfaceStatus(i.Network, i.Network, i.Cidr, Networks.HostNames.Mac(lab.Name, m.Name, i.Network), Networks.HostNames.HostVeth(lab.Name, m.Name, i.Network), i.Dhcp))],
            "", null, m.PrivateUsers)
        { Kind = m.Kind }).ToList();
        return ([state], machines);
    }

    public static string Ascii(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines)
    {
        var text = new StringBuilder();
        foreach (var lab in labs)
        {
            text.AppendLine($"lab {lab.Lab}");
            foreach (var network in lab.Networks.Values)
            {
                if (network.Nat)
                {
                    text.AppendLine($"   (uplink {network.Uplink})");
                    text.AppendLine($"        |  NAT: {network.Subnet} masqueraded (nft table ip spawnlab_{lab.Lab.Replace('-', '_')})");
                }
                text.AppendLine($"   +--[ bridge {network.Bridge} | network {network.Name} {network.Subnet}"
                    + (network.HostAddress is { } host ? $" | host {host}" : "") + (network.Dhcp ? " | DHCP+DNS by the host" : "") + " ]");
                foreach (var machine in machines.Where(m => m.Lab == lab.Lab))
                {
                    foreach (var iface in machine.Interfaces.Where(i => i.Network == network.Name))
                        text.AppendLine($"   |     +-- {machine.Machine,-14} {iface.Interface,-8} {iface.Address ?? (iface.Dhcp ? "dhcp (no lease yet)" : "-"),-20} {iface.Mac}  [{Kind(machine)}{machine.State.Text()}]");
                }
            }
            foreach (var machine in machines.Where(m => m.Lab == lab.Lab && m.Interfaces.Count == 0))
                text.AppendLine($"   (no network) {machine.Machine} [{Kind(machine)}{machine.State.Text()}]");
        }
        return text.ToString();
    }

    public static string Mermaid(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines)
    {
        var text = new StringBuilder("graph TD\n");
        foreach (var lab in labs)
        {
            text.AppendLine($"  subgraph {Id(lab.Lab)}[\"lab {lab.Lab}\"]");
            foreach (var network in lab.Networks.Values)
            {
                var bridge = Id($"{lab.Lab}_{network.Name}");
                text.AppendLine($"    {bridge}[\"bridge {network.Bridge}<br/>{network.Name} {network.Subnet}{(network.HostAddress is { } h ? $"<br/>host {h}" : "")}\"]");
                if (network.Nat)
                    text.AppendLine($"    {Id($"{lab.Lab}_{network.Name}_up")}((\"uplink {network.Uplink}\")) ---|NAT| {bridge}");
                foreach (var machine in machines.Where(m => m.Lab == lab.Lab))
                {
                    foreach (var iface in machine.Interfaces.Where(i => i.Network == network.Name))
                        text.AppendLine($"    {bridge} --- {Id($"{lab.Lab}_{machine.Machine}")}[\"{machine.Machine}\"]");
                }
            }
            foreach (var machine in machines.Where(m => m.Lab == lab.Lab))
            {
                var addresses = string.Join("<br/>", machine.Interfaces.Select(i => $"{i.Interface} {i.Address ?? "dhcp"}"));
                text.AppendLine($"    {Id($"{lab.Lab}_{machine.Machine}")}[\"{machine.Machine}{(addresses.Length > 0 ? "<br/>" + addresses : "")}\"]");
            }
            text.AppendLine("  end");
        }
        return text.ToString();
    }

    public static string Dot(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines)
    {
        var text = new StringBuilder("graph spawnlab {\n  node [shape=box];\n");
        foreach (var lab in labs)
        {
            text.AppendLine($"  subgraph \"cluster_{lab.Lab}\" {{\n    label=\"lab {lab.Lab}\";");
            foreach (var network in lab.Networks.Values)
            {
                var bridge = $"\"{lab.Lab}/{network.Name}\"";
                text.AppendLine($"    {bridge} [shape=ellipse, label=\"bridge {network.Bridge}\\n{network.Name} {network.Subnet}{(network.HostAddress is { } h ? $"\\nhost {h}" : "")}\"];");
                if (network.Nat)
                    text.AppendLine($"    \"{lab.Lab}/{network.Name}/uplink\" [shape=diamond, label=\"uplink {network.Uplink}\"];\n    \"{lab.Lab}/{network.Name}/uplink\" -- {bridge} [label=\"NAT\"];");
                foreach (var machine in machines.Where(m => m.Lab == lab.Lab))
                {
                    foreach (var iface in machine.Interfaces.Where(i => i.Network == network.Name))
                        text.AppendLine($"    {bridge} -- \"{lab.Lab}/{machine.Machine}\" [label=\"{iface.Interface} {iface.Address ?? "dhcp"}\"];");
                }
            }
            foreach (var machine in machines.Where(m => m.Lab == lab.Lab))
                text.AppendLine($"    \"{lab.Lab}/{machine.Machine}\" [label=\"{machine.Machine}\"];");
            text.AppendLine("  }");
        }
        return text.Append("}\n").ToString();
    }

    private static string Id(string name) => name.Replace('-', '_');

    private static string Kind(MachineStatus machine) => machine.Kind == Labs.MachineKind.Vm ? "vm, " : "";
}
