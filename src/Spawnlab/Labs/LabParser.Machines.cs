using System.Net;
using Spawnlab.Networks;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private sealed partial class Builder
    {
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
                var fields = reader.Fields(body, what, LabSchema.Machine.Keys);
                var ok = true;
                var kind = Kind(fields, body, what);
                var networkBoot = kind?.Vm?.Boot == VmBoot.Network;

                string? image = null;
                if (networkBoot)
                {
                    image = "";
                }
                else if (!fields.TryGetValue("image", out var imageNode))
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
                var fullBoot = fields.TryGetValue("full_boot", out var fullBootNode) ? reader.Bool(fullBootNode, $"{what} full_boot") : false;
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
                if (stagesNode is not null && image is { Length: > 0 })
                    RequirePython(stagesNode, what, images[image].Definition, stages);
                if (networkBoot)
                    ok &= NetworkBootRules(what, body, fields, interfaces, stages);
                else if (kind?.Vm is not null && image is { Length: > 0 })
                    ok &= ImageBootRules(what, fields["image"], fields, images[image].Definition, stages);
                if (kind?.Kind == MachineKind.Container && stagesNode is not null && stages.SelectMany(s => s.Checks).Any(c => c.Send is not null))
                {
                    reader.Error(stagesNode, $"{what}: send: types on a VM's serial console; a container's console (its boot log) takes no input");
                    ok = false;
                }
                ok &= kind is not null;
                var groups = fields.TryGetValue("groups", out var groupsNode) ? Groups(groupsNode, $"{what} groups") : [];
                var vars = fields.TryGetValue("vars", out var varsNode) ? Vars(varsNode, $"{what} vars") : [];
                ok &= groups is not null && vars is not null;

                if (hostnames.TryGetValue(name, out var other))
                    reader.Error(keyNode, $"{what}: duplicate name, already used by {other}");
                hostnames[name] = what;
                if (ok && image is not null && readOnly is { } ro && forward is { } routes && privateUsers is { } isolated && fullBoot is { } everyUnit)
                {
                    machines[name] = new MachineDefinition(name, image, interfaces, binds, tmpfs, ro)
                    {
                        Stages = stages,
                        After = after,
                        Forward = routes,
                        PrivateUsers = isolated,
                        FullBoot = everyUnit,
                        RootPasswordFile = passwordFile,
                        Groups = groups!,
                        Vars = vars!,
                        Kind = kind!.Value.Kind,
                        Vm = kind!.Value.Vm,
                    };
                }
            }
            return machines;
        }

        private MachineInterface? Interface(YamlNode node, NetworkDefinition network, string what, Dictionary<IPAddress, string> taken, string machine)
        {
            if (reader.Mapping(node, what) is not { } body)
                return null;
            var fields = reader.Fields(body, what, LabSchema.Attachment.Keys);
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
            if (!Ipv4.IsUsable(network.Subnet, address))
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
                if (!Ipv4.IsUsable(network.Subnet, g) || g.Equals(address))
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

        // An empty tmpfs there hides the kernel's interfaces that nspawn sets up, or the system the machine boots.
        private static readonly string[] KernelFolders = ["/proc", "/sys", "/dev", "/run"]; // paths inside a machine
        private static readonly string[] NoTmpfs = [.. KernelFolders, "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var", "/var/lib"];

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
    }
}
