using System.Security.Cryptography;
using System.Text;

namespace Spawnlab.Networks;

/// <summary>
/// Names of the host objects a lab creates. Each is derived from the lab's name and the object's own names only,
/// so it is the same on every run; interface names carry a hash so that they stay unique within 15 bytes.
/// </summary>
public static class HostNames
{
    public const int MaxInterfaceName = 15;

    /// <summary>The prefix of every interface Spawnlab makes; nothing else on the host is ever taken for ours.</summary>
    public const string InterfacePrefix = "sl";

    /// <summary>How every lab's bridge is named first: where a host firewall lets labs through, it names them so.</summary>
    public const string BridgePrefix = InterfacePrefix + "b";

    public static string Bridge(string lab, string network) => Interface("b", network, $"bridge/{lab}/{network}");

    /// <summary>
    /// A lab network's bridge on an LXD daemon: shorter than <see cref="Bridge"/>, so that the VXLAN tunnel LXD hangs
    /// on it in a cluster (BRIDGE-t) still fits in 15 bytes.
    /// </summary>
    public static string LxdBridge(string lab, string network) => Interface("x", network, $"lxd/{lab}/{network}", readableLength: 3);

    /// <summary>The host side of the veth pair that joins a machine to a network's bridge.</summary>
    public static string HostVeth(string lab, string machine, string network) => Interface("v", machine, $"veth/{lab}/{machine}/{network}");

    /// <summary>
    /// The name of a machine's network namespace: one Spawnlab makes, which holds the machine's interfaces for as long
    /// as the lab is up, or, for a machine in a user namespace, the one nspawn made at its last boot.
    /// </summary>
    public static string Namespace(string lab, string machine) => $"spawnlab-{lab}-{machine}";

    public static string NftTable(string lab) => $"spawnlab_{lab.Replace('-', '_')}";

    /// <summary>The machine's name for systemd-nspawn and machined: unique across labs.</summary>
    public static string MachineUnitName(string lab, string machine) => $"{machine}.{lab}";

    /// <summary>A stable, locally administered unicast MAC address.</summary>
    public static string Mac(string lab, string machine, string network)
    {
        var hash = Hash($"mac/{lab}/{machine}/{network}");
        return $"02:{hash[0]:x2}:{hash[1]:x2}:{hash[2]:x2}:{hash[3]:x2}:{hash[4]:x2}";
    }

    /// <summary>The bridge's own MAC: the host's address on the network.</summary>
    public static string BridgeMac(string lab, string network) => Mac(lab, "(host)", network);

    // sl + kind + up to 5 characters of the readable name + '-' + 6 hex digits: at most 15 bytes.
    private static string Interface(string kind, string readable, string key, int readableLength = 5)
    {
        var hash = Convert.ToHexStringLower(Hash(key))[..6];
        var head = readable.Length > readableLength ? readable[..readableLength] : readable;
        return $"{InterfacePrefix}{kind}{head.TrimEnd('-')}-{hash}";
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
