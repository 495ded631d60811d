using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

/// <summary>
/// Parses and validates a lab file (version 1) before anything touches the host.
/// Every problem is reported with its file, line and column; a lab with any problem is rejected whole.
/// </summary>
public static partial class LabParser
{
    public const int MaxLabNameLength = 20;
    public const int MaxMachineNameLength = 40;

    /// <summary>Network names become interface names inside machines: at most 15 bytes.</summary>
    public const int MaxNetworkNameLength = 15;

    /// <summary>A lab file is text a person writes: anything larger is not one.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>Deeper nesting than this is no lab file, and would exhaust the parser's stack.</summary>
    public const int MaxDepth = 32;

    public static LabDefinition ParseFile(string path)
    {
        var fullPath = Path.GetFullPath(path);
        string text;
        try
        {
            // A FIFO or a device reports no length: it is taken as empty, not read (a FIFO would block for ever, a device never end).
            var info = new FileInfo(fullPath);
            var target = info.Exists ? info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info : info;
            if (target.Exists && target.Length > MaxFileBytes)
                throw new SpawnlabException($"cannot read lab file {path}: it is larger than {MaxFileBytes / 1024} KiB", exitCode: 2);
            text = target.Exists && target.Length == 0 ? "" : File.ReadAllText(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpawnlabException($"cannot read lab file {path}: {e.Message}", exitCode: 2);
        }
        return Parse(text, fullPath);
    }

    public static LabDefinition Parse(string text, string filePath)
    {
        var reader = new YamlNodeReader(filePath);
        if (text.IndexOf('\0', StringComparison.Ordinal) is >= 0 and var nul)
        {
            reader.Error(text[..nul].Count(c => c == '\n') + 1, nul - (text.LastIndexOf('\n', Math.Max(nul - 1, 0)) + 1) + 1, "a NUL byte: a lab file is text");
            throw new LabFileException(reader.Errors);
        }
        var stream = new YamlStream();
        try
        {
            // The tree is built recursively: a nesting deep enough would overflow the stack and end the process.
            if (TooDeep(text) is { } deep)
            {
                reader.Error(deep.Line, deep.Column, $"nested more than {MaxDepth} levels deep");
                throw new LabFileException(reader.Errors);
            }
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var message = e.InnerException is { } inner && e.Message.Contains("Duplicate key", StringComparison.Ordinal)
                ? inner.Message : e.Message;
            message = StripMarkPrefix(message);
            if (e.Message.Contains("Duplicate key", StringComparison.Ordinal))
                message = "duplicate key: each name may appear only once in a mapping";
            if (IndentingTab(text) is { } tab)
                reader.Error(tab.Line, tab.Column, "invalid YAML: a tab in the indentation; YAML indents with spaces");
            else
                reader.Error(e.Start.Line, e.Start.Column, $"invalid YAML: {message}");
            throw new LabFileException(reader.Errors);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            if (IndentingTab(text) is { } tab)
                reader.Error(tab.Line, tab.Column, "invalid YAML: a tab in the indentation; YAML indents with spaces");
            else
                reader.Error(1, 1, $"invalid YAML: {e.Message}");
            throw new LabFileException(reader.Errors);
        }

        if (stream.Documents.Count != 1)
        {
            reader.Error(1, 1, stream.Documents.Count == 0
                ? "empty lab file: expected a mapping with lab, images, networks and machines"
                : "expected one YAML document, found several");
            throw new LabFileException(reader.Errors);
        }

        var lab = new Builder(reader, filePath).Build(stream.Documents[0].RootNode);
        if (reader.Errors.Count > 0 || lab is null)
            throw new LabFileException(reader.Errors);
        return lab;
    }

    /// <summary>The first tab among the spaces that start a line, where a YAML error most likely comes from.</summary>
    private static (int Line, int Column)? IndentingTab(string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indentation = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            if (lines[i].IndexOf('\t', 0, indentation) is >= 0 and var column && lines[i].Trim().Length > 0)
                return (i + 1, column + 1);
        }
        return null;
    }

    /// <summary>Where the nesting of collections first goes deeper than <see cref="MaxDepth"/>, read by the parser's event stream (no recursion); null if it never does.</summary>
    private static Mark? TooDeep(string text)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxDepth)
                        return parser.Current.Start;
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
        return null;
    }

    /// <summary>Only the lab's name from a lab file, which may have been edited since the lab came up.</summary>
    public static string ReadName(string path)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(path)));
            if (stream.Documents.Count > 0 && stream.Documents[0].RootNode is YamlMappingNode root
                && root.Children.TryGetValue(new YamlScalarNode("lab"), out var node) && node is YamlScalarNode { Value: { } name }
                && LabName().IsMatch(name))
                return name;
        }
        catch (YamlException)
        {
            // Edited into invalid YAML since: the name is still on its own line.
            if (Regex.Match(File.ReadAllText(path), @"^lab:\s*([a-z][a-z0-9-]*)\s*$", RegexOptions.Multiline) is { Success: true } match)
                return match.Groups[1].Value;
        }
        catch (IOException)
        {
        }
        throw new SpawnlabException($"{path}: cannot read the lab's name from it; name the lab instead", exitCode: 2);
    }

    private static string StripMarkPrefix(string message)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: …): "; the position is reported separately.
        var match = MarkPrefix().Match(message);
        return match.Success ? message[match.Length..] : message;
    }

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();

    [GeneratedRegex("^[a-z][a-z0-9-]*\\z")]
    public static partial Regex LabName();

    /// <summary>A hostname label: letters, digits and inner hyphens.</summary>
    [GeneratedRegex("^[a-z]([a-z0-9-]*[a-z0-9])?\\z")]
    public static partial Regex MachineName();

    [GeneratedRegex("^[a-z][a-z0-9_-]*\\z")]
    internal static partial Regex SimpleName();

    private sealed class Builder(YamlNodeReader reader, string filePath)
    {
        private readonly string _directory = Path.GetDirectoryName(filePath)!;
        private HashSet<string> _declaredImages = [];
        private HashSet<string> _declaredNetworks = [];

        private static HashSet<string> Declared(YamlNode? node) =>
            node is YamlMappingNode mapping
                ? mapping.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? "").ToHashSet(StringComparer.Ordinal)
                : [];

        public LabDefinition? Build(YamlNode root)
        {
            // A file that is not a mapping at all (a link to some other file) is not quoted back: it may be a secret.
            if (root is YamlScalarNode)
            {
                reader.Error(root, "lab file: expected a mapping with lab, images, networks and machines, found text that is not one");
                return null;
            }
            if (reader.Mapping(root, "lab file") is not { } top)
                return null;
            var fields = reader.Fields(top, "lab file", "lab", "images", "networks", "machines");

            string? name = null;
            if (!fields.TryGetValue("lab", out var nameNode))
                reader.Error(top, "lab file: missing key 'lab' (the lab's name)");
            else if (reader.String(nameNode, "lab") is { } labName)
                name = CheckName(nameNode, labName, "lab", LabName(), MaxLabNameLength, "a lowercase letter followed by lowercase letters, digits or '-'");

            var images = fields.TryGetValue("images", out var imagesNode) ? Images(imagesNode) : [];
            var networks = fields.TryGetValue("networks", out var networksNode) ? Networks(networksNode) : [];
            // A reference to an image or network that is declared but invalid was already reported there.
            _declaredImages = Declared(imagesNode);
            _declaredNetworks = Declared(networksNode);
            CheckOverlaps(networks);
            var machines = new Dictionary<string, MachineDefinition>(StringComparer.Ordinal);
            if (!fields.TryGetValue("machines", out var machinesNode))
                reader.Error(top, "lab file: missing key 'machines'");
            else
                machines = Machines(machinesNode, images, networks);

            LabGraph.Validate(machines, reader, Declared(machinesNode));

            if (name is null)
                return null;
            return new LabDefinition(
                name, filePath,
                images.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal),
                networks.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal),
                machines);
        }

        private string? CheckName(YamlNode node, string value, string what, Regex pattern, int maxLength, string expected)
        {
            if (!pattern.IsMatch(value))
            {
                reader.Error(node, $"{what} name '{Printable(value)}': expected {expected}");
                return null;
            }
            if (value.Length > maxLength)
            {
                reader.Error(node, $"{what} name '{Printable(value)}' is {value.Length} characters long: expected at most {maxLength}");
                return null;
            }
            return value;
        }

        private Dictionary<string, (ImageDefinition Definition, YamlNode Node)> Images(YamlNode node)
        {
            var images = new Dictionary<string, (ImageDefinition, YamlNode)>(StringComparer.Ordinal);
            if (reader.Mapping(node, "images") is not { } mapping)
                return images;
            foreach (var (name, keyNode, value) in reader.Entries(mapping, "images"))
            {
                var what = $"image '{name}'";
                if (CheckName(keyNode, name, "image", SimpleName(), 40, "a lowercase letter followed by lowercase letters, digits, '-' or '_'") is null)
                    continue;
                if (reader.Mapping(value, what) is not { } body)
                    continue;
                var fields = reader.Fields(body, what, "bootstrap", "suite", "mirror", "packages", "setup");
                var ok = true;
                string bootstrap = "debootstrap";
                if (fields.TryGetValue("bootstrap", out var bootstrapNode))
                {
                    var kind = reader.String(bootstrapNode, $"{what} bootstrap");
                    if (kind is null)
                        ok = false;
                    else if (kind is not "debootstrap")
                    {
                        reader.Error(bootstrapNode, kind is "pacstrap" or "tarball" or "command"
                            ? $"{what} bootstrap: '{kind}' is not supported by this version of Spawnlab yet; expected debootstrap"
                            : $"{what} bootstrap: unknown method '{kind}', expected debootstrap");
                        ok = false;
                    }
                    else
                        bootstrap = kind;
                }
                var suite = "bookworm";
                if (fields.TryGetValue("suite", out var suiteNode))
                {
                    if (reader.String(suiteNode, $"{what} suite") is { } s && SimpleName().IsMatch(s))
                        suite = s;
                    else
                    {
                        if (suiteNode is YamlScalarNode)
                            reader.Error(suiteNode, $"{what} suite: expected a Debian suite name such as bookworm");
                        ok = false;
                    }
                }
                string? mirror = null;
                if (fields.TryGetValue("mirror", out var mirrorNode))
                {
                    mirror = reader.String(mirrorNode, $"{what} mirror");
                    if (mirror is not null && !(Uri.TryCreate(mirror, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file"))
                    {
                        reader.Error(mirrorNode, $"{what} mirror: expected an http, https or file URL, found '{mirror}'");
                        ok = false;
                    }
                }
                var packages = new List<string>();
                if (fields.TryGetValue("packages", out var packagesNode))
                {
                    foreach (var (package, packageNode) in reader.Strings(packagesNode, $"{what} packages"))
                    {
                        if (PackageName().IsMatch(package))
                            packages.Add(package);
                        else
                        {
                            reader.Error(packageNode, $"{what} packages: '{package}' is not a Debian package name");
                            ok = false;
                        }
                    }
                }
                string? setup = null;
                if (fields.TryGetValue("setup", out var setupNode))
                    setup = reader.String(setupNode, $"{what} setup");
                if (ok)
                    images[name] = (new ImageDefinition(name, bootstrap, suite, mirror, packages, setup), keyNode);
            }
            return images;
        }

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
                var fields = reader.Fields(body, what, "subnet", "host", "nat", "dhcp", "uplink", "host_access", "dns_forward");
                IPNetwork? subnet = null;
                if (!fields.TryGetValue("subnet", out var subnetNode))
                    reader.Error(body, $"{what}: missing key 'subnet' (an IPv4 network such as 10.0.0.0/24)");
                else if (reader.String(subnetNode, $"{what} subnet") is { } text)
                    subnet = Subnet(subnetNode, text, what);

                IPAddress? host = null;
                if (fields.TryGetValue("host", out var hostNode) && reader.String(hostNode, $"{what} host") is { } hostText)
                {
                    host = Address(hostNode, hostText, $"{what} host");
                    if (host is not null && subnet is { } s && !IsUsable(s, host))
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
                if (subnet is { } net && nat is { } n && dhcp is { } d && access is { } a && dnsForward is { } f)
                    networks[name] = (new NetworkDefinition(name, net, host, n, d, uplink) { HostAccess = a, DnsForward = f }, keyNode);
            }
            return networks;
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
            var network = new IPNetwork(Mask(address, prefix), prefix);
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

        private Dictionary<string, MachineDefinition> Machines(
            YamlNode node,
            Dictionary<string, (ImageDefinition Definition, YamlNode Node)> images,
            Dictionary<string, (NetworkDefinition Definition, YamlNode Node)> networks)
        {
            var machines = new Dictionary<string, MachineDefinition>(StringComparer.Ordinal);
            if (reader.Mapping(node, "machines") is not { } mapping)
                return machines;
            var taken = new Dictionary<IPAddress, string>();
            foreach (var (_, (network, _)) in networks)
            {
                if (network.Host is { } host)
                    taken[host] = $"the host on network '{network.Name}'";
            }
            var hostnames = new Dictionary<string, string>(StringComparer.Ordinal);

            foreach (var (name, keyNode, value) in reader.Entries(mapping, "machines"))
            {
                var what = $"machine '{name}'";
                if (CheckName(keyNode, name, "machine", MachineName(), MaxMachineNameLength,
                        "a hostname: a lowercase letter followed by lowercase letters, digits or inner '-'") is null)
                    continue;
                if (reader.Mapping(value, what) is not { } body)
                    continue;
                var fields = reader.Fields(body, what, "image", "networks", "binds", "tmpfs", "read_only", "forward", "private_users", "root_password_file", "after", "stages");
                var ok = true;

                string? image = null;
                if (!fields.TryGetValue("image", out var imageNode))
                {
                    reader.Error(body, $"{what}: missing key 'image'");
                    ok = false;
                }
                else if (reader.String(imageNode, $"{what} image") is { } imageName)
                {
                    if (images.ContainsKey(imageName))
                        image = imageName;
                    else if (_declaredImages.Contains(imageName))
                        ok = false;
                    else
                    {
                        reader.Error(imageNode, $"{what} image: no image named '{imageName}'; expected one of: {List(images.Keys)}");
                        ok = false;
                    }
                }

                var interfaces = new List<MachineInterface>();
                if (fields.TryGetValue("networks", out var networksNode) && reader.Mapping(networksNode, $"{what} networks") is { } attachments)
                {
                    foreach (var (networkName, networkKey, attachment) in reader.Entries(attachments, $"{what} networks"))
                    {
                        if (!networks.TryGetValue(networkName, out var network) && _declaredNetworks.Contains(networkName))
                        {
                            ok = false;
                            continue;
                        }
                        if (network.Definition is null)
                        {
                            reader.Error(networkKey, $"{what} networks: no network named '{networkName}'; expected one of: {List(networks.Keys)}");
                            ok = false;
                            continue;
                        }
                        if (Interface(attachment, network.Definition, $"{what} network '{networkName}'", taken, name) is { } iface)
                            interfaces.Add(iface);
                        else
                            ok = false;
                    }
                }

                var binds = new List<BindMount>();
                if (fields.TryGetValue("binds", out var bindsNode))
                {
                    foreach (var (text, bindNode) in reader.Strings(bindsNode, $"{what} binds"))
                    {
                        if (Bind(bindNode, text, $"{what} binds") is { } bind)
                            binds.Add(bind);
                        else
                            ok = false;
                    }
                }
                var tmpfs = new List<string>();
                if (fields.TryGetValue("tmpfs", out var tmpfsNode))
                {
                    foreach (var (text, pathNode) in reader.Strings(tmpfsNode, $"{what} tmpfs"))
                    {
                        if (!MachinePath(pathNode, text, $"{what} tmpfs"))
                        {
                            ok = false;
                        }
                        else if (NoTmpfs.FirstOrDefault(p => text.TrimEnd('/') == p || (KernelFolders.Contains(p) && text.StartsWith(p + "/", StringComparison.Ordinal))) is { } hidden)
                        {
                            reader.Error(pathNode, $"{what} tmpfs: '{text}' would hide {(KernelFolders.Contains(hidden) ? "what the kernel and nspawn mount there" : "what the machine needs to boot")}; expected a folder of data such as /var/tmp or /home");
                            ok = false;
                        }
                        else
                        {
                            tmpfs.Add(text);
                        }
                    }
                }
                var readOnly = fields.TryGetValue("read_only", out var readOnlyNode) ? reader.Bool(readOnlyNode, $"{what} read_only") : false;
                var forward = fields.TryGetValue("forward", out var forwardNode) ? reader.Bool(forwardNode, $"{what} forward") : false;
                var privateUsers = fields.TryGetValue("private_users", out var privateUsersNode) ? reader.Bool(privateUsersNode, $"{what} private_users") : true;
                string? passwordFile = null;
                if (fields.TryGetValue("root_password_file", out var passwordNode))
                {
                    if (reader.String(passwordNode, $"{what} root_password_file") is { } passwordPath
                        && HostPath(passwordNode, passwordPath, $"{what} root_password_file") is { } full && File.Exists(full))
                        passwordFile = full;
                    else
                    {
                        if (passwordNode is YamlScalarNode { Value: { } v } && Directory.Exists(Path.Combine(_directory, v)))
                            reader.Error(passwordNode, $"{what} root_password_file: '{v}' is a folder; expected a file holding the password");
                        ok = false;
                    }
                }

                var stages = fields.TryGetValue("stages", out var stagesNode) ? Stages(stagesNode, what, ref ok) : [];
                var after = fields.TryGetValue("after", out var afterNode) ? After(afterNode, what, ref ok) : [];

                if (hostnames.TryGetValue(name, out var other))
                    reader.Error(keyNode, $"{what}: duplicate name, already used by {other}");
                hostnames[name] = what;
                if (ok && image is not null && readOnly is { } ro && forward is { } routes && privateUsers is { } isolated)
                {
                    machines[name] = new MachineDefinition(name, image, interfaces, binds, tmpfs, ro)
                    {
                        Stages = stages,
                        After = after,
                        Forward = routes,
                        PrivateUsers = isolated,
                        RootPasswordFile = passwordFile,
                    };
                }
            }
            return machines;
        }

        private MachineInterface? Interface(YamlNode node, NetworkDefinition network, string what, Dictionary<IPAddress, string> taken, string machine)
        {
            if (reader.Mapping(node, what) is not { } body)
                return null;
            var fields = reader.Fields(body, what, "address", "gateway", "dhcp");
            var dhcp = fields.TryGetValue("dhcp", out var dhcpNode) ? reader.Bool(dhcpNode, $"{what} dhcp") : false;
            if (dhcp is null)
                return null;
            if (dhcp == true && fields.TryGetValue("gateway", out var leasedGateway))
            {
                reader.Error(leasedGateway, $"{what} gateway: a machine that takes a DHCP lease takes its gateway from it; expected no 'gateway'");
                return null;
            }
            if (!fields.TryGetValue("address", out var addressNode))
            {
                if (dhcp == true)
                    return new MachineInterface(network.Name, null, network.Subnet.PrefixLength, null, Dhcp: true);
                reader.Error(body, $"{what}: missing key 'address' (such as {Example(network)}), or 'dhcp: true'");
                return null;
            }
            if (dhcp == true && !network.Dhcp)
            {
                reader.Error(addressNode, $"{what} address: a fixed lease needs the host's DHCP server ('dhcp: true' on network '{network.Name}'); a machine that serves DHCP there hands out its own addresses");
                return null;
            }
            if (reader.String(addressNode, $"{what} address") is not { } text)
                return null;
            var slash = text.IndexOf('/');
            var addressText = slash < 0 ? text : text[..slash];
            var prefix = network.Subnet.PrefixLength;
            if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], out prefix) || prefix != network.Subnet.PrefixLength))
            {
                reader.Error(addressNode, $"{what} address: '{text}' has a prefix length other than the subnet's; expected /{network.Subnet.PrefixLength}");
                return null;
            }
            if (Address(addressNode, addressText, $"{what} address") is not { } address)
                return null;
            if (!IsUsable(network.Subnet, address))
            {
                reader.Error(addressNode, $"{what} address: {address} is not a usable address of subnet {network.Subnet}");
                return null;
            }
            if (taken.TryGetValue(address, out var owner))
            {
                reader.Error(addressNode, $"{what} address: {address} is already taken by {owner}");
                return null;
            }
            taken[address] = $"machine '{machine}'";

            IPAddress? gateway = null;
            if (fields.TryGetValue("gateway", out var gatewayNode))
            {
                if (reader.String(gatewayNode, $"{what} gateway") is not { } gatewayText
                    || Address(gatewayNode, gatewayText, $"{what} gateway") is not { } g)
                    return null;
                if (!IsUsable(network.Subnet, g) || g.Equals(address))
                {
                    reader.Error(gatewayNode, $"{what} gateway: {g} is not another usable address of subnet {network.Subnet}");
                    return null;
                }
                gateway = g;
            }
            return new MachineInterface(network.Name, address, prefix, gateway, Dhcp: dhcp == true);
        }

        private BindMount? Bind(YamlNode node, string text, string what)
        {
            var parts = text.Split(':');
            if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                reader.Error(node, $"{what}: '{text}' expected HOST_PATH:MACHINE_PATH or HOST_PATH:MACHINE_PATH:ro");
                return null;
            }
            var readOnly = false;
            if (parts.Length == 3)
            {
                if (parts[2] is not ("ro" or "rw"))
                {
                    reader.Error(node, $"{what}: '{text}' has option '{parts[2]}'; expected ro or rw");
                    return null;
                }
                readOnly = parts[2] == "ro";
            }
            if (!MachinePath(node, parts[1], what))
                return null;
            // "@MACHINE" names the root of another machine of the lab (a file server exporting a client's root).
            if (parts[0].StartsWith('@'))
            {
                if (!MachineName().IsMatch(parts[0][1..]))
                {
                    reader.Error(node, $"{what}: '{parts[0]}' expected @MACHINE, the root of another machine of the lab");
                    return null;
                }
                return new BindMount(parts[0], parts[1], readOnly) { Machine = parts[0][1..], Line = (int)node.Start.Line, Column = (int)node.Start.Column };
            }
            if (HostPath(node, parts[0], what) is not { } source)
                return null;
            return new BindMount(source, parts[1], readOnly);
        }

        /// <summary>A path of the host, relative to the lab file's folder and inside it, that must exist.</summary>
        private string? HostPath(YamlNode node, string path, string what)
        {
            if (Path.IsPathRooted(path))
            {
                reader.Error(node, $"{what}: host path '{path}' is absolute; expected a path relative to the lab file's folder");
                return null;
            }
            var full = Path.GetFullPath(Path.Combine(_directory, path));
            var relative = Path.GetRelativePath(_directory, full);
            if (relative == ".." || relative.StartsWith("../", StringComparison.Ordinal))
            {
                reader.Error(node, $"{what}: host path '{path}' leaves the lab file's folder; expected a path inside {_directory}");
                return null;
            }
            if (!Directory.Exists(full) && !File.Exists(full))
            {
                reader.Error(node, $"{what}: host path '{path}' does not exist (resolved to {full})");
                return null;
            }
            // A link inside the folder may lead out of it: what the machine would read or write is where it leads.
            if (!Host.RealPath.IsWithin(full, _directory))
            {
                reader.Error(node, $"{what}: host path '{path}' is a symbolic link to {Host.RealPath.Of(full)}, outside the lab file's folder; expected a path inside {_directory}");
                return null;
            }
            return full;
        }

        /// <summary>References MACHINE/STAGE; whether they exist is checked once every machine is read.</summary>
        private List<StageRef> After(YamlNode node, string what, ref bool ok)
        {
            var result = new List<StageRef>();
            foreach (var (text, item) in reader.Strings(node, $"{what} after"))
            {
                var parts = text.Split('/');
                if (parts.Length != 2 || !MachineName().IsMatch(parts[0]) || !StageName().IsMatch(parts[1]))
                {
                    reader.Error(item, $"{what} after: '{text}' expected MACHINE/STAGE");
                    ok = false;
                    continue;
                }
                result.Add(new StageRef(parts[0], parts[1]) { Line = (int)item.Start.Line, Column = (int)item.Start.Column });
            }
            if (node is not YamlSequenceNode)
                ok = false;
            return result;
        }

        private List<StageDefinition> Stages(YamlNode node, string machine, ref bool ok)
        {
            var stages = new List<StageDefinition>();
            if (node is not YamlSequenceNode sequence)
            {
                reader.Error(node, $"{machine} stages: expected a list of stages, found {YamlNodeReader.Describe(node)}");
                ok = false;
                return stages;
            }
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in sequence.Children)
            {
                if (Stage(item, machine, names) is { } stage)
                    stages.Add(stage);
                else
                    ok = false;
            }
            return stages;
        }

        private StageDefinition? Stage(YamlNode node, string machine, HashSet<string> names)
        {
            if (reader.Mapping(node, $"{machine} stage") is not { } body)
                return null;
            var fields = reader.Fields(body, $"{machine} stage", "name", "files", "host", "run", "checks", "after", "timeout");
            if (!fields.TryGetValue("name", out var nameNode))
            {
                reader.Error(body, $"{machine} stage: missing key 'name'");
                return null;
            }
            if (reader.String(nameNode, $"{machine} stage name") is not { } name
                || CheckName(nameNode, name, "stage", StageName(), 40, "lowercase letters, digits, '-' or '_', starting with a letter or digit") is null)
                return null;
            var what = $"{machine} stage '{name}'";
            if (!names.Add(name))
            {
                reader.Error(nameNode, $"{what}: duplicate stage name");
                return null;
            }
            var ok = true;
            var files = new List<FileCopy>();
            if (fields.TryGetValue("files", out var filesNode) && reader.Mapping(filesNode, $"{what} files") is { } fileMap)
            {
                foreach (var (target, targetNode, sourceNode) in reader.Entries(fileMap, $"{what} files"))
                {
                    if (!MachinePath(targetNode, target, $"{what} files") || reader.String(sourceNode, $"{what} files '{target}'") is not { } source
                        || HostPath(sourceNode, source, $"{what} files '{target}'") is not { } full)
                        ok = false;
                    else
                        files.Add(new FileCopy(target, full, source));
                }
            }
            else if (filesNode is not null)
                ok = false;
            string? host = null, run = null;
            if (fields.TryGetValue("host", out var hostNode) && (host = reader.String(hostNode, $"{what} host")) is null)
                ok = false;
            if (fields.TryGetValue("run", out var runNode) && (run = reader.String(runNode, $"{what} run")) is null)
                ok = false;
            var checks = new List<CheckDefinition>();
            if (fields.TryGetValue("checks", out var checksNode))
            {
                if (checksNode is not YamlSequenceNode checkList)
                {
                    reader.Error(checksNode, $"{what} checks: expected a list of checks, found {YamlNodeReader.Describe(checksNode)}");
                    ok = false;
                }
                else
                {
                    foreach (var checkNode in checkList.Children)
                    {
                        if (Check(checkNode, what) is { } check)
                            checks.Add(check);
                        else
                            ok = false;
                    }
                }
            }
            var after = fields.TryGetValue("after", out var afterNode) ? After(afterNode, what, ref ok) : [];
            var timeout = StageDefinition.DefaultTimeout;
            if (fields.TryGetValue("timeout", out var timeoutNode))
            {
                if (Duration(timeoutNode, $"{what} timeout", maxSeconds: 24 * 3600) is { } t)
                    timeout = t;
                else
                    ok = false;
            }
            return ok ? new StageDefinition(name, files, host, run, checks) { After = after, Timeout = timeout } : null;
        }

        private static readonly Dictionary<string, (CheckKind Kind, string[] Options)> CheckKinds = new(StringComparer.Ordinal)
        {
            ["service"] = (CheckKind.Service, []),
            ["file"] = (CheckKind.File, ["contains", "non_empty"]),
            ["command"] = (CheckKind.Command, ["stdout"]),
            ["http"] = (CheckKind.Http, ["status", "contains"]),
            ["port"] = (CheckKind.Port, ["proto"]),
            ["dns"] = (CheckKind.Dns, ["address"]),
            ["ping"] = (CheckKind.Ping, []),
        };

        private CheckDefinition? Check(YamlNode node, string stage)
        {
            var what = $"{stage} check";
            if (reader.Mapping(node, what) is not { } body)
                return null;
            var kinds = body.Children.Keys.OfType<YamlScalarNode>().Where(k => k.Value is not null && CheckKinds.ContainsKey(k.Value)).ToList();
            if (kinds.Count != 1)
            {
                reader.Error(body, kinds.Count == 0
                    ? $"{what}: expected one of the check kinds {string.Join(", ", CheckKinds.Keys)}"
                    : $"{what}: one check has one kind; found {string.Join(" and ", kinds.Select(k => k.Value))}");
                return null;
            }
            var kindName = kinds[0].Value!;
            var (kind, options) = CheckKinds[kindName];
            var fields = reader.Fields(body, $"{what} '{kindName}'", [kindName, "timeout", .. options]);
            if (reader.String(fields[kindName], $"{what} {kindName}") is not { } target)
                return null;
            var check = new CheckDefinition(kind, target, CheckDefinition.DefaultTimeout);
            var ok = true;
            if (fields.TryGetValue("timeout", out var timeoutNode))
            {
                if (Duration(timeoutNode, $"{what} timeout") is { } timeout)
                    check = check with { Timeout = timeout };
                else
                    ok = false;
            }
            if (fields.TryGetValue("contains", out var containsNode))
            {
                var contains = reader.String(containsNode, $"{what} contains");
                check = check with { Contains = contains };
                ok &= contains is not null;
            }
            if (fields.TryGetValue("non_empty", out var nonEmptyNode))
            {
                var nonEmpty = reader.Bool(nonEmptyNode, $"{what} non_empty");
                check = check with { NonEmpty = nonEmpty == true };
                ok &= nonEmpty is not null;
            }
            if (fields.TryGetValue("stdout", out var stdoutNode) && reader.String(stdoutNode, $"{what} stdout") is { } pattern)
            {
                try
                {
                    _ = new Regex(pattern);
                    check = check with { Stdout = pattern };
                }
                catch (ArgumentException e)
                {
                    reader.Error(stdoutNode, $"{what} stdout: '{pattern}' is not a regular expression: {e.Message}");
                    ok = false;
                }
            }
            if (fields.TryGetValue("status", out var statusNode))
            {
                if (reader.Integer(statusNode, $"{what} status") is { } status and >= 100 and <= 599)
                    check = check with { Status = status };
                else
                {
                    if (statusNode is YamlScalarNode { Value: var v } && int.TryParse(v, out _))
                        reader.Error(statusNode, $"{what} status: expected an HTTP status from 100 to 599");
                    ok = false;
                }
            }
            if (fields.TryGetValue("proto", out var protoNode))
            {
                var proto = reader.String(protoNode, $"{what} proto");
                if (proto is "tcp" or "udp")
                    check = check with { Proto = proto };
                else
                {
                    if (proto is not null)
                        reader.Error(protoNode, $"{what} proto: expected tcp or udp, found '{proto}'");
                    ok = false;
                }
            }
            if (fields.TryGetValue("address", out var addressNode) && reader.String(addressNode, $"{what} address") is { } addressText)
            {
                if (Address(addressNode, addressText, $"{what} address") is { } address)
                    check = check with { Address = address.ToString() };
                else
                    ok = false;
            }
            if (kind == CheckKind.Port && !(int.TryParse(target, out var port) && port is > 0 and < 65536))
            {
                reader.Error(fields[kindName], $"{what} port: expected a port number from 1 to 65535, found '{target}'");
                ok = false;
            }
            if (kind == CheckKind.File && !MachinePath(fields[kindName], target, $"{what} file"))
                ok = false;
            if (kind == CheckKind.Http && !(Uri.TryCreate(target, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                reader.Error(fields[kindName], $"{what} http: expected an http or https URL, found '{target}'");
                ok = false;
            }
            return ok ? check : null;
        }

        // An empty tmpfs there hides the kernel's interfaces that nspawn sets up, or the system the machine boots.
        private static readonly string[] KernelFolders = ["/proc", "/sys", "/dev", "/run"]; // paths inside a machine
        private static readonly string[] NoTmpfs = [.. KernelFolders, "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var", "/var/lib"];

        /// <summary>A name as it can be printed on one line: control characters as escapes.</summary>
        private static string Printable(string value) =>
            string.Concat(value.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

        private TimeSpan? Duration(YamlNode node, string what, double maxSeconds = 3600)
        {
            if (node is YamlScalarNode { Value: { } text } && DurationPattern().Match(text) is { Success: true } match)
            {
                // Bounded before it becomes a TimeSpan, which a huge number would overflow.
                var seconds = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                    * match.Groups[2].Value switch { "ms" => 0.001, "m" => 60, "h" => 3600, _ => 1 };
                if (seconds > 0 && seconds <= maxSeconds)
                    return TimeSpan.FromSeconds(seconds);
            }
            reader.Error(node, $"{what}: expected a duration such as 30s, 500ms or 2m (at most {maxSeconds / 3600:0}h), found {YamlNodeReader.Describe(node)}");
            return null;
        }

        private bool MachinePath(YamlNode node, string path, string what)
        {
            if (!path.StartsWith('/') || path.Split('/').Any(part => part is ".." or ".") || path.Contains("//", StringComparison.Ordinal)
                || path == "/" || path.Any(char.IsControl) || path.Contains(':'))
            {
                reader.Error(node, $"{what}: '{path}' expected an absolute path inside the machine, without '.', '..' or ':', other than /");
                return false;
            }
            return true;
        }

        private static string Example(NetworkDefinition network)
        {
            var bytes = network.Subnet.BaseAddress.GetAddressBytes();
            bytes[3] += 10;
            return $"{new IPAddress(bytes)}/{network.Subnet.PrefixLength}";
        }

        private static string List(IEnumerable<string> names) =>
            names.Any() ? string.Join(", ", names) : "(none defined)";
    }

    internal static IPAddress Mask(IPAddress address, int prefix)
    {
        var value = ToUInt(address) & PrefixMask(prefix);
        return FromUInt(value);
    }

    /// <summary>An address that a machine or the host can take: inside the subnet, neither its network nor its broadcast address.</summary>
    internal static bool IsUsable(IPNetwork subnet, IPAddress address)
    {
        if (!subnet.Contains(address))
            return false;
        var value = ToUInt(address);
        var network = ToUInt(subnet.BaseAddress);
        var broadcast = network | ~PrefixMask(subnet.PrefixLength);
        return value != network && value != broadcast;
    }

    private static uint PrefixMask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);

    internal static uint ToUInt(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    internal static IPAddress FromUInt(uint value) =>
        new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*\\z")]
    internal static partial Regex StageName();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?\z")]
    private static partial Regex DurationPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+\\z")]
    private static partial Regex PackageName();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*\\z")]
    private static partial Regex InterfaceName();
}
