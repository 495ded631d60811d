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
        lab.Networks["lan"] = new NetworkState { Name = "lan", Bridge = "slblan-123456", Subnet = "10.0.0.0/24", HostAddress = "10.0.0.1/24", Nat = true, Uplink = "eth0" };
        var machines = new List<MachineStatus>
        {
            new("prolo-lab", "gw", MachineRunState.Running, [new InterfaceStatus("lan", "lan", "10.0.0.254/24", "02:00:00:00:00:01", "slvgw-1", false)], "/p/gw", 10, PrivateUsers: true),
            new("prolo-lab", "web", MachineRunState.Running, [new InterfaceStatus("lan", "lan", "10.0.0.150/24", "02:00:00:00:00:02", "slvweb-2", true)], "/p/web", 11, PrivateUsers: false),
        };
        return ([lab], machines);
    }

    [Fact]
    public void The_ansible_inventory_is_YAML_with_groups_per_lab_and_network_and_host_vars_with_MACs()
    {
        var (labs, machines) = Prolo();
        var stream = new YamlStream();
        stream.Load(new StringReader(Inventory.ToAnsible(labs, machines)));

        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var lab = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)root["all"])["children"])["prolo_lab"];
        var gw = (YamlMappingNode)((YamlMappingNode)lab["hosts"])["gw"];
        Assert.Equal("10.0.0.254", gw["ansible_host"].ToString());
        Assert.Equal("02:00:00:00:00:01", gw["spawnlab_lan_mac"].ToString());
        var network = (YamlMappingNode)((YamlMappingNode)lab["children"])["prolo_lab_lan"];
        Assert.Equal(["gw", "web"], ((YamlMappingNode)network["hosts"]).Children.Keys.Select(k => k.ToString()));
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

        Assert.Contains("spawnlab_state: running", Inventory.ToAnsible(labs, machines), StringComparison.Ordinal);
        Assert.Contains("\"running\"", Inventory.ToJson(labs, machines), StringComparison.Ordinal);
        Assert.Contains("[running]", TopologyGraph.Ascii(labs, machines), StringComparison.Ordinal);
        Assert.Equal("\"orphaned\"", System.Text.Json.JsonSerializer.Serialize(MachineRunState.Orphaned));
    }
}
