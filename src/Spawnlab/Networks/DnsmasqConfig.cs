using System.Text;
using Spawnlab.Labs;

namespace Spawnlab.Networks;

/// <summary>
/// The configuration of the dnsmasq that serves DHCP and DNS on a network with 'dhcp: true': leases from the upper half
/// of the subnet, fixed leases by MAC, and the lab's machines resolvable as MACHINE and MACHINE.LAB; other names are
/// asked of the host's resolvers only with 'dns_forward' (by default, on a network with NAT).
/// </summary>
public static class DnsmasqConfig
{
    public static string For(LabDefinition lab, NetworkDefinition network, string bridge, string leaseFile, string hostsFile)
    {
        var host = network.Host ?? throw new InvalidOperationException($"network {network.Name} has no host address");
        var (start, end) = Ipv4.UpperHalf(network.Subnet);
        var text = new StringBuilder();
        text.AppendLine($"# Written by Spawnlab for network {network.Name} of lab {lab.Name}");
        text.AppendLine($"interface={bridge}");
        text.AppendLine("bind-interfaces");
        text.AppendLine("except-interface=lo");
        text.AppendLine($"listen-address={host}");
        text.AppendLine("no-hosts");
        text.AppendLine($"addn-hosts={hostsFile}");
        text.AppendLine($"domain={lab.Name}");
        text.AppendLine($"local=/{lab.Name}/");
        text.AppendLine("expand-hosts");
        text.AppendLine("domain-needed");
        text.AppendLine("bogus-priv");
        // A lab is a network of its own: names other than the lab's are not looked up outside unless it says so.
        if (!network.DnsForward)
            text.AppendLine("no-resolv");
        text.AppendLine($"dhcp-range={start},{end},{Ipv4.Netmask(network.Subnet.PrefixLength)},12h");
        text.AppendLine("dhcp-authoritative");
        text.AppendLine($"dhcp-leasefile={leaseFile}");
        text.AppendLine($"dhcp-option=option:router,{host}");
        text.AppendLine($"dhcp-option=option:dns-server,{host}");
        if (network.Tftp is { } tftp)
        {
            // iPXE (QEMU's NIC ROM) says so with option 175: it gets the boot file, by TFTP from this server.
            text.AppendLine("enable-tftp");
            text.AppendLine($"tftp-root={tftp}");
            text.AppendLine("dhcp-match=set:ipxe,175");
            text.AppendLine($"dhcp-boot=tag:ipxe,{network.BootFile}");
        }
        foreach (var machine in lab.Machines.Values)
        {
            foreach (var iface in machine.Interfaces.Where(i => i.Network == network.Name && i.Dhcp && i.Address is not null))
                text.AppendLine($"dhcp-host={HostNames.Mac(lab.Name, machine.Name, network.Name)},{iface.Address},{machine.Name}");
        }
        return text.ToString();
    }

    /// <summary>Every machine with a known address on any network of the lab, for DNS.</summary>
    public static string Hosts(LabDefinition lab)
    {
        var text = new StringBuilder();
        foreach (var machine in lab.Machines.Values)
        {
            foreach (var iface in machine.Interfaces.Where(i => i.Address is not null))
                text.AppendLine($"{iface.Address} {machine.Name}");
        }
        return text.ToString();
    }
}
