using System.Text.Json;
using Spawnlab.Machines;
using Spawnlab.State;
using YamlDotNet.Serialization;

namespace Spawnlab.Lifecycle;

/// <summary>Every machine with its addresses, MACs and networks, grouped by lab and network, for Ansible or as JSON.</summary>
public static class Inventory
{
    public static string ToJson(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines) => JsonSerializer.Serialize(
        labs.ToDictionary(lab => lab.Lab, lab => new
        {
            networks = lab.Networks.Values.ToDictionary(n => n.Name, n => new
            {
                subnet = n.Subnet,
                bridge = n.Bridge,
                host = n.HostAddress,
                nat = n.Nat,
                dhcp = n.Dhcp,
                machines = machines.Where(m => m.Lab == lab.Lab && m.Interfaces.Any(i => i.Network == n.Name)).Select(m => m.Machine).ToList(),
            }),
            machines = machines.Where(m => m.Lab == lab.Lab).ToDictionary(m => m.Machine, m => new
            {
                state = m.State,
                interfaces = m.Interfaces.Select(i => new { network = i.Network, name = i.Interface, address = i.Address, mac = i.Mac, dhcp = i.Dhcp }),
            }),
        }),
        new JsonSerializerOptions { WriteIndented = true });

    /// <summary>
    /// A YAML inventory: a group per lab with a child group per network, and host variables with each machine's
    /// address and MAC per network (the old scripts wrote each MAC into host_vars); `ansible_host` is the machine's
    /// first address.
    /// </summary>
    public static string ToAnsible(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines)
    {
        static string Group(string name) => name.Replace('-', '_');
        var children = new Dictionary<string, object>();
        foreach (var lab in labs)
        {
            var labMachines = machines.Where(m => m.Lab == lab.Lab).ToList();
            var hosts = labMachines.ToDictionary(m => m.Machine, m =>
            {
                var vars = new Dictionary<string, object?>
                {
                    ["spawnlab_lab"] = lab.Lab,
                    ["spawnlab_state"] = m.State.Text(),
                };
                if (m.Interfaces.FirstOrDefault(i => i.Address is not null) is { } primary)
                    vars["ansible_host"] = primary.Address![..primary.Address!.IndexOf('/')];
                foreach (var i in m.Interfaces)
                {
                    vars[$"spawnlab_{Group(i.Network)}_mac"] = i.Mac;
                    vars[$"spawnlab_{Group(i.Network)}_address"] = i.Address;
                }
                vars["spawnlab_interfaces"] = m.Interfaces.Select(i => new Dictionary<string, object?>
                {
                    ["network"] = i.Network,
                    ["name"] = i.Interface,
                    ["address"] = i.Address,
                    ["mac"] = i.Mac,
                    ["dhcp"] = i.Dhcp,
                }).ToList();
                return (object)vars;
            });
            var networkGroups = lab.Networks.Values.ToDictionary(
                n => Group($"{lab.Lab}_{n.Name}"),
                n => (object)new Dictionary<string, object>
                {
                    ["hosts"] = labMachines.Where(m => m.Interfaces.Any(i => i.Network == n.Name)).ToDictionary(m => m.Machine, _ => (object)new Dictionary<string, object>()),
                    ["vars"] = new Dictionary<string, object?> { ["spawnlab_subnet"] = n.Subnet, ["spawnlab_bridge"] = n.Bridge },
                });
            children[Group(lab.Lab)] = new Dictionary<string, object> { ["hosts"] = hosts, ["children"] = networkGroups };
        }
        var document = new Dictionary<string, object> { ["all"] = new Dictionary<string, object> { ["children"] = children } };
        return new SerializerBuilder().Build().Serialize(document);
    }
}
