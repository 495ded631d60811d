using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.State;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Tests.Lifecycle;

public sealed class InventorySpecs
{
    private static (IReadOnlyList<LabState>, IReadOnlyList<MachineStatus>) Prolo()
    {
        var lab = new LabState { Lab = "prolo-lab", PoolPath = "/p", Driver = "btrfs" };
        lab.Vars["container_setup"] = true;
        lab.Networks["lan"] = new NetworkState { Name = "lan", Bridge = "slblan-123456", Subnet = "10.0.0.0/24", HostAddress = "10.0.0.1/24", Nat = true, Uplink = "eth0" };
        lab.Networks["users"] = new NetworkState { Name = "users", Bridge = "slbusers-123456", Subnet = "10.1.0.0/24" };
        foreach (var name in new[] { "gw", "web", "r01" })
            lab.Machines[name] = new MachineState { Name = name, Image = "i", Config = "c", Root = $"/p/{name}", Namespace = $"n-{name}", LogFile = "l" };
        lab.Machines["gw"].Groups = ["gateways"];
        lab.Machines["gw"].Vars["role"] = "gw";
        lab.Machines["r01"].Groups = ["user"];
        var machines = new List<MachineStatus>
        {
            new("prolo-lab", "gw", MachineRunState.Running, [new InterfaceStatus("lan", "lan", "10.0.0.254/24", "02:00:00:00:00:01", "slvgw-1", false), new InterfaceStatus("users", "users", "10.1.0.1/24", "02:00:00:00:01:01", "slvgw-2", false)], "/p/gw", 10, PrivateUsers: true),
            new("prolo-lab", "web", MachineRunState.Running, [new InterfaceStatus("lan", "lan", "10.0.0.150/24", "02:00:00:00:00:02", "slvweb-2", true)], "/p/web", 11, PrivateUsers: false),
            new("prolo-lab", "r01", MachineRunState.Stopped, [new InterfaceStatus("users", "users", "10.1.0.10/24", "02:00:00:00:01:02", "slvr01-1", false)], "/p/r01", null, PrivateUsers: true),
        };
        return ([lab], machines);
    }

    private static Inventory Of(InventoryConnection connection = InventoryConnection.Spawnlab)
    {
        var (labs, machines) = Prolo();
        return Inventory.Of(labs, machines, (_, m) => m.Name == "r01" ? null : ["nsenter", "--target", m.Name == "gw" ? "10" : "11", "--all", "--"], connection);
    }

    private static YamlMappingNode Yaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    [Fact]
    public void The_YAML_inventory_has_every_host_with_its_vars_and_groups_per_lab_network_and_lab_file()
    {
        var all = (YamlMappingNode)Yaml(Of().ToYaml())["all"];

        var gw = (YamlMappingNode)((YamlMappingNode)all["hosts"])["gw"];
        Assert.Equal("10.0.0.254", gw["ansible_host"].ToString());
        Assert.Equal("02:00:00:00:00:01", gw["spawnlab_lan_mac"].ToString());
        Assert.Equal("spawnlab.lab.machine", gw["ansible_connection"].ToString());
        Assert.Equal(["nsenter", "--target", "10", "--all", "--"], ((YamlSequenceNode)gw["spawnlab_enter"]).Children.Select(c => c.ToString()));
        Assert.Equal("gw", gw["role"].ToString());
        var children = (YamlMappingNode)all["children"];
        var lab = (YamlMappingNode)children["prolo_lab"];
        Assert.Equal(["gw", "web", "r01"], ((YamlMappingNode)lab["hosts"]).Children.Keys.Select(k => k.ToString()));
        Assert.Equal(["prolo_lab_lan", "prolo_lab_users"], ((YamlMappingNode)lab["children"]).Children.Keys.Select(k => k.ToString()));
        Assert.Equal("true", ((YamlMappingNode)lab["vars"])["container_setup"].ToString());
        Assert.Equal(["gw", "web"], ((YamlMappingNode)((YamlMappingNode)children["prolo_lab_lan"])["hosts"]).Children.Keys.Select(k => k.ToString()));
        Assert.Equal(["gw"], ((YamlMappingNode)((YamlMappingNode)children["gateways"])["hosts"]).Children.Keys.Select(k => k.ToString()));
        Assert.False(((YamlMappingNode)((YamlMappingNode)all["hosts"])["r01"]).Children.ContainsKey("spawnlab_enter"));
    }

    [Fact]
    public void The_dynamic_inventory_answers_list_with_groups_and_hostvars_and_host_with_one_host_s_vars()
    {
        var inventory = Of();

        using var list = System.Text.Json.JsonDocument.Parse(inventory.ToListJson());
        using var host = System.Text.Json.JsonDocument.Parse(inventory.HostJson("gw"));
        using var unknown = System.Text.Json.JsonDocument.Parse(inventory.HostJson("nosuch"));

        var root = list.RootElement;
        Assert.Equal("spawnlab.lab.machine", root.GetProperty("_meta").GetProperty("hostvars").GetProperty("web").GetProperty("ansible_connection").GetString());
        Assert.Equal(["ungrouped", "prolo_lab", "gateways", "user"], root.GetProperty("all").GetProperty("children").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["r01"], root.GetProperty("user").GetProperty("hosts").EnumerateArray().Select(e => e.GetString()));
        Assert.True(root.GetProperty("prolo_lab").GetProperty("vars").GetProperty("container_setup").GetBoolean());
        Assert.Equal("gw", host.RootElement.GetProperty("role").GetString());
        Assert.Empty(unknown.RootElement.EnumerateObject());
    }

    [Fact]
    public void Over_SSH_a_machine_the_host_cannot_reach_is_reached_through_a_gateway_machine()
    {
        var hosts = Of(InventoryConnection.Ssh).Hosts;

        Assert.Equal("ssh", hosts["r01"]["ansible_connection"]!.ToString());
        Assert.Equal("10.1.0.10", hosts["r01"]["ansible_host"]!.ToString());
        Assert.Contains("-W %h:%p root@10.0.0.254", hosts["r01"]["ansible_ssh_common_args"]!.ToString(), StringComparison.Ordinal);
        Assert.Equal("10.0.0.150", hosts["web"]["ansible_host"]!.ToString());
        Assert.DoesNotContain("ProxyCommand", hosts["web"]["ansible_ssh_common_args"]!.ToString(), StringComparison.Ordinal);
        Assert.False(hosts["web"].ContainsKey("spawnlab_enter"));
    }

    [Fact]
    public void Export_writes_hosts_yml_and_a_mac_yml_per_host()
    {
        var folder = Path.Combine(Path.GetTempPath(), "spawnlab-export-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var written = Of().Export(folder);

            Assert.Equal(4, written.Count);
            Assert.NotNull(Yaml(File.ReadAllText(Path.Combine(folder, "hosts.yml")))["all"]);
            var mac = Yaml(File.ReadAllText(Path.Combine(folder, "host_vars", "gw", "mac.yml")));
            Assert.Equal("02:00:00:00:00:01", mac["mac"].ToString());
            Assert.Equal("02:00:00:00:01:01", ((YamlMappingNode)mac["macs"])["users"].ToString());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Two_labs_with_a_machine_of_the_same_name_ask_for_one_lab()
    {
        var (labs, machines) = Prolo();
        var other = new LabState { Lab = "other", PoolPath = "/p", Driver = "btrfs" };
        other.Machines["gw"] = new MachineState { Name = "gw", Image = "i", Config = "c", Root = "/p/x", Namespace = "n", LogFile = "l" };

        var error = Assert.Throws<SpawnlabException>(() => Inventory.Of([.. labs, other], [.. machines, machines[0] with { Lab = "other" }], (_, _) => null, InventoryConnection.Spawnlab));

        Assert.Equal(2, error.ExitCode);
        Assert.Contains("spawnlab inventory other", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_graph_draws_uplink_NAT_bridge_host_address_and_every_interface()
    {
        var (labs, machines) = Prolo();
        var ascii = TopologyGraph.Ascii(labs, machines);
        foreach (var text in new[] { "uplink eth0", "NAT: 10.0.0.0/24", "bridge slblan-123456", "host 10.0.0.1/24", "gw", "10.0.0.254/24", "02:00:00:00:00:02" })
            Assert.Contains(text, ascii, StringComparison.Ordinal);
        Assert.StartsWith("graph TD", TopologyGraph.Mermaid(labs, machines), StringComparison.Ordinal);
        Assert.Contains("\"prolo-lab/lan\" -- \"prolo-lab/gw\"", TopologyGraph.Dot(labs, machines), StringComparison.Ordinal);
    }

    [Fact]
    public void A_machine_s_state_is_written_as_a_word_in_the_inventory_the_graph_and_JSON()
    {
        var (labs, machines) = Prolo();

        Assert.Contains("spawnlab_state: running", Of().ToYaml(), StringComparison.Ordinal);
        Assert.Contains("\"running\"", Inventory.ToJson(labs, machines), StringComparison.Ordinal);
        Assert.Contains("[running]", TopologyGraph.Ascii(labs, machines), StringComparison.Ordinal);
        Assert.Equal("\"orphaned\"", System.Text.Json.JsonSerializer.Serialize(MachineRunState.Orphaned));
    }
}

public sealed class InventoryYamlSpecs
{
    [Fact]
    public void Strings_that_YAML_would_read_as_something_else_are_quoted_and_numbers_booleans_and_nulls_are_not()
    {
        var vars = new System.Text.Json.Nodes.JsonObject
        {
            ["strings"] = new System.Text.Json.Nodes.JsonArray("true", "yes", "No", "10", "1:20", "1.5", "a: b", "", "null", "~", "#x", "'q'", "é", "02:00:00:00:00:01", "/usr/bin/python3", "spawnlab.lab.machine"),
            ["number"] = 42,
            ["real"] = 1.5,
            ["flag"] = false,
            ["none"] = null,
        };
        var yaml = InventoryYaml.Write(vars);
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;

        var strings = ((YamlSequenceNode)root["strings"]).Children.Cast<YamlScalarNode>().ToList();
        Assert.Equal(vars["strings"]!.AsArray().Select(s => s!.GetValue<string>()), strings.Select(s => s.Value));
        Assert.All(strings.Take(14), s => Assert.Equal(YamlDotNet.Core.ScalarStyle.DoubleQuoted, s.Style));
        Assert.All(strings.Skip(14), s => Assert.Equal(YamlDotNet.Core.ScalarStyle.Plain, s.Style));
        Assert.True(yaml.Contains("number: 42\nreal: 1.5\nflag: false\nnone: null\n", StringComparison.Ordinal), yaml);
    }
}
