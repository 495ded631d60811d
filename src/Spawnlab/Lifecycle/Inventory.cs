using System.Text.Json;
using System.Text.Json.Nodes;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>How Ansible reaches the machines of an inventory.</summary>
public enum InventoryConnection
{
    /// <summary>Spawnlab's connection (spawnlab.lab.machine): enters each running machine from the host, no SSH.</summary>
    Spawnlab,

    /// <summary>SSH as root to each machine's address, through a machine the host reaches for those it does not.</summary>
    Ssh,
}

/// <summary>
/// The labs as Ansible sees them: a host per machine with its addresses, MACs, networks, vars and connection; a group
/// per lab (with the lab's vars) holding a child group per network; and the groups the lab file puts machines in.
/// </summary>
public sealed record Inventory(IReadOnlyDictionary<string, JsonObject> Hosts, IReadOnlyDictionary<string, InventoryGroup> Groups)
{
    /// <summary>The name of the connection plugin that Spawnlab ships (Ansible/collection).</summary>
    public const string ConnectionPlugin = "spawnlab.lab.machine";

    /// <param name="enter">The command that enters a running machine (its program, then what runs inside follows), or null.</param>
    public static Inventory Of(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines, Func<LabState, MachineState, IReadOnlyList<string>?> enter, InventoryConnection connection)
    {
        var hosts = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        var groups = new Dictionary<string, InventoryGroup>(StringComparer.Ordinal);
        InventoryGroup Group(string name) => groups.TryGetValue(name, out var g) ? g : groups[name] = new InventoryGroup([], [], []);
        foreach (var lab in labs)
        {
            var labGroup = Group(GroupName(lab.Lab));
            foreach (var (key, value) in lab.Vars)
                labGroup.Vars[key] = value?.DeepClone();
            foreach (var network in lab.Networks.Values)
            {
                var networkGroup = Group(GroupName($"{lab.Lab}_{network.Name}"));
                networkGroup.Vars["spawnlab_subnet"] = network.Subnet;
                networkGroup.Vars["spawnlab_bridge"] = network.Bridge;
                labGroup.Children.Add(GroupName($"{lab.Lab}_{network.Name}"));
            }
            foreach (var status in machines.Where(m => m.Lab == lab.Lab))
            {
                var machine = lab.Machines[status.Machine];
                if (hosts.ContainsKey(status.Machine))
                {
                    throw new SpawnlabException(
                        $"machine {status.Machine} is in lab {lab.Lab} and in another lab: an inventory names each host once; ask for one lab (`spawnlab inventory {lab.Lab}`)", exitCode: 2);
                }
                hosts[status.Machine] = HostVars(lab, machine, status, machines, enter(lab, machine), connection);
                labGroup.Hosts.Add(status.Machine);
                foreach (var iface in status.Interfaces)
                    Group(GroupName($"{lab.Lab}_{iface.Network}")).Hosts.Add(status.Machine);
                foreach (var group in machine.Groups)
                    Group(group).Hosts.Add(status.Machine);
            }
        }
        return new Inventory(hosts, groups);
    }

    private static JsonObject HostVars(LabState lab, MachineState machine, MachineStatus status, IReadOnlyList<MachineStatus> machines, IReadOnlyList<string>? enter, InventoryConnection connection)
    {
        var vars = new JsonObject
        {
            ["spawnlab_lab"] = lab.Lab,
            ["spawnlab_machine"] = $"{lab.Lab}/{machine.Name}",
            ["spawnlab_state"] = status.State.Text(),
            ["spawnlab_kind"] = status.Kind == Labs.MachineKind.Vm ? "vm" : "container",
            ["ansible_user"] = "root",
            ["ansible_python_interpreter"] = "/usr/bin/python3",
        };
        if (status.Interfaces.FirstOrDefault(i => i.Address is not null) is { } primary)
            vars["ansible_host"] = Address(primary.Address);
        foreach (var i in status.Interfaces)
        {
            vars[$"spawnlab_{GroupName(i.Network)}_mac"] = i.Mac;
            vars[$"spawnlab_{GroupName(i.Network)}_address"] = i.Address;
        }
        vars["spawnlab_interfaces"] = new JsonArray([.. status.Interfaces.Select(i => new JsonObject
        {
            ["network"] = i.Network,
            ["name"] = i.Interface,
            ["address"] = i.Address,
            ["mac"] = i.Mac,
            ["dhcp"] = i.Dhcp,
        })]);
        if (connection == InventoryConnection.Spawnlab)
        {
            vars["ansible_connection"] = ConnectionPlugin;
            if (enter is not null)
                vars["spawnlab_enter"] = new JsonArray([.. enter.Select(a => (JsonNode)a)]);
        }
        else
        {
            Ssh(vars, lab, status, machines);
        }
        foreach (var (key, value) in machine.Vars)
            vars[key] = value?.DeepClone();
        return vars;
    }

    /// <summary>
    /// SSH as root: to the machine's address on a network the host has an address on, or, when it has none there,
    /// through a machine that has (a jump host), as SADM reaches contestant machines through its gateway.
    /// </summary>
    private static void Ssh(JsonObject vars, LabState lab, MachineStatus status, IReadOnlyList<MachineStatus> machines)
    {
        vars["ansible_connection"] = "ssh";
        bool Reachable(InterfaceStatus i) => i.Address is not null && lab.Networks.TryGetValue(i.Network, out var n) && n.HostAddress is not null;
        var options = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR";
        if (status.Interfaces.FirstOrDefault(Reachable) is { } direct)
        {
            vars["ansible_host"] = Address(direct.Address);
        }
        else
        {
            var jump = status.Interfaces.Where(i => i.Address is not null).SelectMany(i => machines
                    .Where(m => m.Lab == lab.Lab && m.Machine != status.Machine && m.Interfaces.Any(j => j.Network == i.Network) && m.Interfaces.Any(Reachable))
                    .Select(m => (Inside: i, Via: m.Interfaces.First(Reachable))))
                .FirstOrDefault();
            if (jump.Via is not null)
            {
                vars["ansible_host"] = Address(jump.Inside.Address);
                // ProxyJump would not pass these options, nor the key Ansible is given, on to the jump: a ProxyCommand does
                // (Ansible fills in the template when it connects).
                var key = "{{ ('-i ' ~ ansible_ssh_private_key_file ~ ' ') if ansible_ssh_private_key_file is defined else '' }}";
                options += $" -o ProxyCommand=\"ssh {options} {key}-W %h:%p root@{Address(jump.Via.Address)}\"";
            }
        }
        vars["ansible_ssh_common_args"] = options;
    }

    private static string? Address(string? cidr) => cidr?[..cidr.IndexOf('/')];

    private static string GroupName(string name) => name.Replace('-', '_');

    /// <summary>Ansible's dynamic inventory answer to --list: every group, and every host's vars under _meta.</summary>
    public string ToListJson()
    {
        var root = new JsonObject
        {
            ["_meta"] = new JsonObject { ["hostvars"] = new JsonObject(Hosts.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value.DeepClone()))) },
            ["all"] = new JsonObject { ["children"] = new JsonArray([.. Groups.Keys.Where(g => !Groups.Values.Any(o => o.Children.Contains(g))).Prepend("ungrouped").Select(g => (JsonNode)g)]) },
        };
        foreach (var (name, group) in Groups)
        {
            root[name] = new JsonObject
            {
                ["hosts"] = new JsonArray([.. group.Hosts.Distinct().Select(h => (JsonNode)h)]),
                ["children"] = new JsonArray([.. group.Children.Distinct().Select(c => (JsonNode)c)]),
                ["vars"] = group.Vars.DeepClone(),
            };
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Ansible's dynamic inventory answer to --host NAME: that host's vars ({} for a host it does not know).</summary>
    public string HostJson(string host) =>
        (Hosts.TryGetValue(host, out var vars) ? vars.DeepClone() : new JsonObject()).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    /// <summary>A YAML inventory file: `all` with every host and its vars, and the groups as children.</summary>
    public string ToYaml()
    {
        var groups = new JsonObject(Groups.Select(g => KeyValuePair.Create(g.Key, (JsonNode?)new JsonObject
        {
            ["hosts"] = new JsonObject(g.Value.Hosts.Distinct().Select(h => KeyValuePair.Create(h, (JsonNode?)null))),
            ["children"] = new JsonObject(g.Value.Children.Distinct().Select(c => KeyValuePair.Create(c, (JsonNode?)null))),
            ["vars"] = g.Value.Vars.DeepClone(),
        })));
        var hosts = new JsonObject(Hosts.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)h.Value.DeepClone())));
        return InventoryYaml.Write(new JsonObject { ["all"] = new JsonObject { ["hosts"] = hosts, ["children"] = groups } });
    }

    /// <summary>
    /// SADM's layout in <paramref name="directory"/>: hosts.yml, and host_vars/HOST/mac.yml with the machine's MAC
    /// (on its first network) and its MAC on each network.
    /// </summary>
    public IReadOnlyList<string> Export(string directory)
    {
        var written = new List<string>();
        Directory.CreateDirectory(directory);
        var hostsFile = Path.Combine(directory, "hosts.yml");
        File.WriteAllText(hostsFile, ToYaml());
        written.Add(hostsFile);
        foreach (var (host, vars) in Hosts)
        {
            var interfaces = vars["spawnlab_interfaces"]!.AsArray();
            var folder = Path.Combine(directory, "host_vars", host);
            Directory.CreateDirectory(folder);
            var macFile = Path.Combine(folder, "mac.yml");
            var macs = interfaces.Select(i => $"  {i!["network"]}: \"{i["mac"]}\"\n");
            File.WriteAllText(macFile, "# Written by Spawnlab: the machine's MAC on its first network, and on each network\n"
                + (interfaces.Count > 0 ? $"mac: \"{interfaces[0]!["mac"]}\"\n" : "") + (interfaces.Count > 0 ? "macs:\n" + string.Concat(macs) : ""));
            written.Add(macFile);
        }
        return written;
    }

    /// <summary>Every lab with its networks and machines, as JSON (the `--format json` of `spawnlab inventory`).</summary>
    public static string ToJson(IReadOnlyList<LabState> labs, IReadOnlyList<MachineStatus> machines) => JsonNodes.Indented(new JsonObject(
        labs.Select(lab => KeyValuePair.Create(lab.Lab, (JsonNode?)new JsonObject
        {
            ["networks"] = new JsonObject(lab.Networks.Values.Select(n => KeyValuePair.Create(n.Name, (JsonNode?)new JsonObject
            {
                ["subnet"] = n.Subnet,
                ["bridge"] = n.Bridge,
                ["host"] = n.HostAddress,
                ["nat"] = n.Nat,
                ["uplink"] = n.Nat ? n.Uplink : null,
                ["dhcp"] = n.Dhcp,
                ["machines"] = JsonNodes.Array(machines.Where(m => m.Lab == lab.Lab && m.Interfaces.Any(i => i.Network == n.Name)).Select(m => m.Machine)),
            }))),
            ["machines"] = new JsonObject(machines.Where(m => m.Lab == lab.Lab).Select(m => KeyValuePair.Create(m.Machine, (JsonNode?)new JsonObject
            {
                ["kind"] = m.Kind == Labs.MachineKind.Vm ? "vm" : "container",
                ["state"] = JsonSerializer.SerializeToNode(m.State, SpawnlabJson.Default.MachineRunState),
                ["interfaces"] = JsonNodes.Array(m.Interfaces.Select(i => (JsonNode)new JsonObject
                {
                    ["network"] = i.Network,
                    ["name"] = i.Interface,
                    ["address"] = i.Address,
                    ["mac"] = i.Mac,
                    ["dhcp"] = i.Dhcp,
                })),
            }))),
        }))));
}

/// <summary>An Ansible group: its hosts, its child groups and its vars.</summary>
public sealed record InventoryGroup(List<string> Hosts, List<string> Children, JsonObject Vars);
