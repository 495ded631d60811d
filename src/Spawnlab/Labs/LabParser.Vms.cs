using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private static readonly string[] ContainerKeys = ["binds", "tmpfs", "read_only", "forward", "private_users", "root_password_file", "full_boot"];

    private static readonly string[] VmKeys = ["boot", "memory", "cpus", "disk"];

    private sealed partial class Builder
    {
        /// <summary>
        /// A machine's kind and, for a VM, its boot, memory, CPUs and disk. Keys of the other kind are refused; a
        /// network-booted VM has no image and no agent, so its stages hold console checks only. Null when invalid.
        /// </summary>
        private (MachineKind Kind, VmDefinition? Vm)? Kind(Dictionary<string, YamlNode> fields, YamlMappingNode body, string what)
        {
            var kind = MachineKind.Container;
            if (fields.TryGetValue("kind", out var kindNode))
            {
                switch (reader.String(kindNode, $"{what} kind"))
                {
                    case "container":
                        break;
                    case "vm":
                        kind = MachineKind.Vm;
                        break;
                    case { } other:
                        reader.Error(kindNode, $"{what} kind: expected container or vm, found '{Printable(other)}'");
                        return null;
                    default:
                        return null;
                }
            }
            var ok = true;
            foreach (var key in kind == MachineKind.Vm ? ContainerKeys : VmKeys)
            {
                if (fields.TryGetValue(key, out var node))
                {
                    reader.Error(body.Children.Keys.First(k => k is YamlScalarNode { Value: var v } && v == key),
                        kind == MachineKind.Vm ? $"{what}: '{key}' is a container's key; a VM (kind: vm) has none" : $"{what}: '{key}' is a VM's key; add 'kind: vm' or remove it");
                    ok = false;
                }
            }
            if (kind == MachineKind.Container)
                return ok ? (kind, null) : null;

            var boot = VmBoot.Image;
            if (fields.TryGetValue("boot", out var bootNode))
            {
                switch (reader.String(bootNode, $"{what} boot"))
                {
                    case "network":
                        boot = VmBoot.Network;
                        break;
                    case "image":
                        break;
                    case { } other:
                        reader.Error(bootNode, $"{what} boot: expected network or image, found '{Printable(other)}'");
                        ok = false;
                        break;
                    default:
                        ok = false;
                        break;
                }
            }
            var memory = fields.TryGetValue("memory", out var memoryNode) ? Size(memoryNode, $"{what} memory", 64L << 20, 1L << 40) : VmDefinition.DefaultMemoryMiB << 20;
            var disk = fields.TryGetValue("disk", out var diskNode) ? Size(diskNode, $"{what} disk", 1L << 20, 16L << 40) : VmDefinition.DefaultDiskBytes;
            int? cpus = 1;
            if (fields.TryGetValue("cpus", out var cpusNode) && (cpus = reader.Integer(cpusNode, $"{what} cpus")) is not (>= 1 and <= 64))
            {
                if (cpus is not null)
                    reader.Error(cpusNode, $"{what} cpus: expected 1 to 64, found {cpus}");
                cpus = null;
            }
            if (!ok || memory is null || disk is null || cpus is null)
                return null;
            return (kind, new VmDefinition(boot, memory.Value >> 20, cpus.Value, disk.Value));
        }

        /// <summary>What a network-booted VM can do without an agent inside: no image, a network, console checks only.</summary>
        private bool NetworkBootRules(string what, YamlMappingNode body, Dictionary<string, YamlNode> fields, IReadOnlyList<MachineInterface> interfaces, IReadOnlyList<StageDefinition> stages)
        {
            var ok = true;
            if (fields.TryGetValue("image", out var imageNode))
            {
                reader.Error(imageNode, $"{what} image: a VM with boot: network starts from an empty disk and boots what its network serves; expected no image");
                ok = false;
            }
            if (interfaces.Count == 0 && !fields.ContainsKey("networks"))
            {
                reader.Error(body, $"{what}: a VM with boot: network boots from its first network; expected 'networks:'");
                ok = false;
            }
            foreach (var stage in stages)
            {
                var node = fields["stages"];
                if (stage.Files.Count > 0 || stage.Host is not null || stage.Run is not null || stage.Ansible is not null)
                {
                    reader.Error(node, $"{what} stage '{stage.Name}': a network-booted VM has no agent to run files, host, run or ansible; it takes console checks only");
                    ok = false;
                }
                if (stage.Checks.FirstOrDefault(c => c.Kind != CheckKind.Console) is { } check)
                {
                    reader.Error(node, $"{what} stage '{stage.Name}': check '{check.Describe()}' needs an agent inside; a network-booted VM takes console checks only");
                    ok = false;
                }
            }
            return ok;
        }

        /// <summary>
        /// What an image-booted VM needs: a kernel and its guest agent in the image (through which its stages and checks
        /// run), and no host step (its root is a disk, not a folder of the host) nor, yet, Ansible.
        /// </summary>
        private bool ImageBootRules(string what, YamlNode imageNode, Dictionary<string, YamlNode> fields, ImageDefinition image, IReadOnlyList<StageDefinition> stages)
        {
            var ok = true;
            var missing = new[] { "linux-image-amd64", "qemu-guest-agent" }.Where(p => image.Bootstrap == "debootstrap" && !image.Packages.Contains(p)).ToList();
            if (missing.Count > 0)
            {
                reader.Error(imageNode, $"{what} image: a VM boots the kernel of its image and is driven by its guest agent: add {string.Join(" and ", missing)} to the packages of image '{image.Name}'");
                ok = false;
            }
            foreach (var stage in stages.Where(s => s.Ansible is not null))
            {
                reader.Error(fields["stages"], $"{what} stage '{stage.Name}': ansible: does not reach VMs yet");
                ok = false;
            }
            return ok;
        }

        /// <summary>A size such as 512M, 2G or 1048576 (bytes), within bounds; null when invalid.</summary>
        private long? Size(YamlNode node, string what, long min, long max)
        {
            if (node is YamlScalarNode { Value: { } text } && SizePattern().Match(text) is { Success: true } match
                && long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            {
                var shift = match.Groups[2].Value switch { "K" or "k" => 10, "M" or "m" => 20, "G" or "g" => 30, "T" or "t" => 40, _ => 0 };
                if (number <= max >> shift && number << shift >= min)
                    return number << shift;
                reader.Error(node, $"{what}: {text} is out of bounds: expected {min >> 20}M to {max >> 30}G");
                return null;
            }
            reader.Error(node, $"{what}: expected a size such as 512M or 2G, found {YamlNodeReader.Describe(node)}");
            return null;
        }
    }

    [GeneratedRegex("^([0-9]+)([KMGTkmgt]?)(i?B)?\\z")]
    private static partial Regex SizePattern();
}
