using System.Net;
using System.Net.Sockets;
using Spawnlab.Networks;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private sealed partial class Builder
    {
        private Dictionary<string, (NetworkDefinition Definition, YamlNode Node)> Networks(YamlNode node)
        {
            var networks = new Dictionary<string, (NetworkDefinition, YamlNode)>(StringComparer.Ordinal);
            if (reader.Mapping(node, "networks") is not { } mapping)
                return networks;
            foreach (var (name, keyNode, value) in reader.Entries(mapping, "networks"))
            {
                var what = $"network '{name}'";
                if (CheckName(keyNode, name, "network", MachineName(), MaxNetworkNameLength,
                        "a lowercase letter followed by lowercase letters, digits or inner '-' (it names the interface inside each machine)") is null)
                    continue;
                if (reader.Mapping(value, what) is not { } body)
                    continue;
                var fields = reader.Fields(body, what, LabSchema.Network.Keys);
                IPNetwork? subnet = null;
                if (!fields.TryGetValue("subnet", out var subnetNode))
                    reader.Error(body, $"{what}: missing key 'subnet' (an IPv4 network such as 10.0.0.0/24)");
                else if (reader.String(subnetNode, $"{what} subnet") is { } text)
                    subnet = Subnet(subnetNode, text, what);

                IPAddress? host = null;
                if (fields.TryGetValue("host", out var hostNode) && reader.String(hostNode, $"{what} host") is { } hostText)
                {
                    host = Address(hostNode, hostText, $"{what} host");
                    if (host is not null && subnet is { } s && !Ipv4.IsUsable(s, host))
                    {
                        reader.Error(hostNode, $"{what} host: {host} is not a usable address of {s}");
                        host = null;
                    }
                }
                var nat = fields.TryGetValue("nat", out var natNode) ? reader.Bool(natNode, $"{what} nat") : false;
                var dhcp = fields.TryGetValue("dhcp", out var dhcpNode) ? reader.Bool(dhcpNode, $"{what} dhcp") : false;
                if (nat == true && host is null && hostNode is null)
                    reader.Error(natNode!, $"{what} nat: NAT needs the host on the network; expected a 'host' address");
                string? uplink = null;
                if (fields.TryGetValue("uplink", out var uplinkNode) && reader.String(uplinkNode, $"{what} uplink") is { } u)
                {
                    if (u.Length > 15 || !InterfaceName().IsMatch(u))
                        reader.Error(uplinkNode, $"{what} uplink: '{u}' is not an interface name");
                    else
                        uplink = u;
                }
                if (dhcp == true && host is null && hostNode is null)
                    reader.Error(dhcpNode!, $"{what} dhcp: the host serves DHCP and DNS from its address on the network; expected a 'host' address");
                HostAccess? access = HostAccess.All;
                if (fields.TryGetValue("host_access", out var accessNode))
                {
                    access = reader.String(accessNode, $"{what} host_access") switch
                    {
                        "all" => HostAccess.All,
                        "dhcp-dns" => HostAccess.DhcpDns,
                        "none" => HostAccess.None,
                        _ => null,
                    };
                    if (access is null)
                        reader.Error(accessNode, $"{what} host_access: expected all, dhcp-dns or none, found {YamlNodeReader.Describe(accessNode)}");
                    else if (access == HostAccess.None && dhcp == true)
                        reader.Error(accessNode, $"{what} host_access: none leaves the network's DHCP and DNS out of reach; expected dhcp-dns");
                }
                var dnsForward = fields.TryGetValue("dns_forward", out var forwardNode) ? reader.Bool(forwardNode, $"{what} dns_forward") : nat;
                if (dnsForward == true && forwardNode is not null && dhcp != true)
                    reader.Error(forwardNode, $"{what} dns_forward: only the host's DNS server of a network with 'dhcp: true' forwards; expected dhcp: true");
                var (tftp, bootFile, bootOk) = Tftp(fields, what, dhcp, access);
                if (subnet is { } net && nat is { } n && dhcp is { } d && access is { } a && dnsForward is { } f && bootOk)
                    networks[name] = (new NetworkDefinition(name, net, host, n, d, uplink) { HostAccess = a, DnsForward = f, Tftp = tftp, BootFile = bootFile }, keyNode);
            }
            return networks;
        }

        /// <summary>The host's TFTP for network boot: a folder of the lab's, served by the network's dnsmasq, with the file iPXE boots.</summary>
        private (string? Folder, string BootFile, bool Ok) Tftp(Dictionary<string, YamlNode> fields, string what, bool? dhcp, HostAccess? access)
        {
            var bootFile = "boot.ipxe";
            if (!fields.TryGetValue("tftp", out var tftpNode))
            {
                if (fields.TryGetValue("boot_file", out var lonely))
                {
                    reader.Error(lonely, $"{what} boot_file: names a file of the network's 'tftp' folder; expected 'tftp' too");
                    return (null, bootFile, false);
                }
                return (null, bootFile, true);
            }
            if (reader.String(tftpNode, $"{what} tftp") is not { } path || HostPath(tftpNode, path, $"{what} tftp") is not { } folder)
                return (null, bootFile, false);
            var ok = true;
            if (!Directory.Exists(folder))
            {
                reader.Error(tftpNode, $"{what} tftp: '{path}' is a file; expected a folder to serve");
                ok = false;
            }
            if (dhcp != true)
            {
                reader.Error(tftpNode, $"{what} tftp: the host's dnsmasq serves it, with DHCP; expected dhcp: true");
                ok = false;
            }
            if (access is not HostAccess.All)
            {
                reader.Error(tftpNode, $"{what} tftp: TFTP answers from ports of its own choosing; expected host_access: all");
                ok = false;
            }
            if (fields.TryGetValue("boot_file", out var bootNode))
            {
                if (reader.String(bootNode, $"{what} boot_file") is { } name && !name.Contains('/') && name is not ("." or ".."))
                    bootFile = name;
                else
                {
                    if (bootNode is YamlScalarNode)
                        reader.Error(bootNode, $"{what} boot_file: expected a file name in the tftp folder");
                    ok = false;
                }
            }
            return (folder, bootFile, ok);
        }

        private IPNetwork? Subnet(YamlNode node, string text, string what)
        {
            var slash = text.IndexOf('/');
            if (slash < 0 || text[..slash].Count(c => c == '.') != 3 || !IPAddress.TryParse(text[..slash], out var address) || address.AddressFamily != AddressFamily.InterNetwork
                || !int.TryParse(text[(slash + 1)..], out var prefix) || prefix is < 8 or > 30)
            {
                reader.Error(node, $"{what} subnet: '{text}' is not an IPv4 network; expected an address and a prefix length from 8 to 30, such as 10.0.0.0/24");
                return null;
            }
            var network = new IPNetwork(Ipv4.Mask(address, prefix), prefix);
            if (!network.BaseAddress.Equals(address))
            {
                reader.Error(node, $"{what} subnet: '{text}' has host bits set; expected {network}");
                return null;
            }
            return network;
        }

        private IPAddress? Address(YamlNode node, string text, string what)
        {
            if (IPAddress.TryParse(text, out var address) && address.AddressFamily == AddressFamily.InterNetwork && text.Count(c => c == '.') == 3)
                return address;
            reader.Error(node, $"{what}: '{text}' is not an IPv4 address");
            return null;
        }

        private void CheckOverlaps(Dictionary<string, (NetworkDefinition Definition, YamlNode Node)> networks)
        {
            var list = networks.Values.ToList();
            for (var i = 0; i < list.Count; i++)
            {
                for (var j = 0; j < i; j++)
                {
                    var (a, b) = (list[j].Definition, list[i].Definition);
                    if (a.Subnet.Contains(b.Subnet.BaseAddress) || b.Subnet.Contains(a.Subnet.BaseAddress))
                        reader.Error(list[i].Node, $"network '{b.Name}': subnet {b.Subnet} overlaps {a.Subnet} of network '{a.Name}'");
                }
            }
        }

        private static string Example(NetworkDefinition network)
        {
            return $"{Ipv4.Offset(network.Subnet, 10)}/{network.Subnet.PrefixLength}";
        }
    }
}
