using System.Net;

namespace Spawnlab.Networks;

/// <summary>IPv4 arithmetic on addresses and subnets: masks, usable addresses, ranges.</summary>
public static class Ipv4
{
    /// <summary>The network address of <paramref name="address"/> under a prefix of that length.</summary>
    public static IPAddress Mask(IPAddress address, int prefix) => FromUInt(ToUInt(address) & PrefixMask(prefix));

    /// <summary>An address that a machine or the host can take: inside the subnet, neither its network nor its broadcast address.</summary>
    public static bool IsUsable(IPNetwork subnet, IPAddress address)
    {
        if (!subnet.Contains(address))
            return false;
        var value = ToUInt(address);
        var network = ToUInt(subnet.BaseAddress);
        var broadcast = network | ~PrefixMask(subnet.PrefixLength);
        return value != network && value != broadcast;
    }

    /// <summary>The netmask of a prefix length, dotted (255.255.255.0).</summary>
    public static IPAddress Netmask(int prefix) => FromUInt(PrefixMask(prefix));

    /// <summary>The upper half of a subnet, its broadcast address excluded: where the host's DHCP server leases from.</summary>
    public static (IPAddress First, IPAddress Last) UpperHalf(IPNetwork subnet)
    {
        var first = ToUInt(subnet.BaseAddress);
        var size = 1u << (32 - subnet.PrefixLength);
        return (FromUInt(first + size / 2), FromUInt(first + size - 2));
    }

    /// <summary>An address <paramref name="offset"/> past the subnet's network address.</summary>
    public static IPAddress Offset(IPNetwork subnet, uint offset) => FromUInt(ToUInt(subnet.BaseAddress) + offset);

    private static uint PrefixMask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);

    private static uint ToUInt(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    private static IPAddress FromUInt(uint value) =>
        new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
}
