using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private sealed partial class Builder
    {
        /// <summary>Ansible variables: a mapping whose keys are variable names and whose values are any YAML.</summary>
        private JsonObject? Vars(YamlNode node, string what)
        {
            if (reader.Mapping(node, what) is not { } mapping)
                return null;
            var vars = new JsonObject();
            var ok = true;
            foreach (var (key, keyNode, value) in reader.Entries(mapping, what))
            {
                if (!AnsibleName().IsMatch(key))
                {
                    reader.Error(keyNode, $"{what}: '{Printable(key)}' is not an Ansible variable name: expected letters, digits and '_', not starting with a digit");
                    ok = false;
                    continue;
                }
                vars[key] = Json(value);
            }
            return ok ? vars : null;
        }

        /// <summary>Ansible groups a machine belongs to.</summary>
        private List<string>? Groups(YamlNode node, string what)
        {
            var groups = new List<string>();
            var ok = true;
            foreach (var (group, groupNode) in reader.Strings(node, what))
            {
                if (!AnsibleName().IsMatch(group) || group is "all" or "ungrouped")
                {
                    reader.Error(groupNode, group is "all" or "ungrouped"
                        ? $"{what}: '{group}' is a group Ansible makes itself"
                        : $"{what}: '{Printable(group)}' is not an Ansible group name: expected letters, digits and '_', not starting with a digit");
                    ok = false;
                }
                else if (!groups.Contains(group))
                {
                    groups.Add(group);
                }
            }
            return ok && node is YamlSequenceNode ? groups : null;
        }

        /// <summary>The lab's `ssh:`: public keys (files of the lab's folder) that may log in as root to machines that run sshd.</summary>
        private List<string>? AuthorizedKeys(YamlNode node)
        {
            if (reader.Mapping(node, "ssh") is not { } body)
                return null;
            var fields = reader.Fields(body, "ssh", LabSchema.Ssh.Keys);
            if (!fields.TryGetValue("authorized_keys", out var keysNode))
            {
                reader.Error(body, "ssh: missing key 'authorized_keys' (a list of public key files)");
                return null;
            }
            var keys = new List<string>();
            var ok = keysNode is YamlSequenceNode;
            foreach (var (path, pathNode) in reader.Strings(keysNode, "ssh authorized_keys"))
            {
                if (HostPath(pathNode, path, "ssh authorized_keys") is not { } full)
                {
                    ok = false;
                }
                else if (!File.Exists(full) || new FileInfo(full).Length > 64 * 1024)
                {
                    reader.Error(pathNode, $"ssh authorized_keys: '{path}' is not a public key file");
                    ok = false;
                }
                else if (File.ReadAllText(full) is var text && text.Contains("PRIVATE KEY", StringComparison.Ordinal))
                {
                    // Not quoted back: it is a secret.
                    reader.Error(pathNode, $"ssh authorized_keys: '{path}' is a private key; expected its public half (the .pub file)");
                    ok = false;
                }
                else if (!text.Split('\n').Any(l => PublicKey().IsMatch(l.Trim())))
                {
                    reader.Error(pathNode, $"ssh authorized_keys: '{path}' holds no public key line (ssh-ed25519 AAAA..., ssh-rsa ..., ecdsa-...)");
                    ok = false;
                }
                else
                {
                    keys.Add(full);
                }
            }
            return ok ? keys : null;
        }

        /// <summary>A stage's `ansible:` — a playbook of the lab's folder, run against the machine with its tags and extra vars.</summary>
        private AnsibleStage? Ansible(YamlNode node, string what)
        {
            if (reader.Mapping(node, what) is not { } body)
                return null;
            var fields = reader.Fields(body, what, LabSchema.Ansible.Keys);
            if (!fields.TryGetValue("playbook", out var playbookNode))
            {
                reader.Error(body, $"{what}: missing key 'playbook' (a playbook of the lab's folder)");
                return null;
            }
            if (reader.String(playbookNode, $"{what} playbook") is not { } playbook || HostPath(playbookNode, playbook, $"{what} playbook") is not { } full)
                return null;
            if (!File.Exists(full))
            {
                reader.Error(playbookNode, $"{what} playbook: '{playbook}' is a folder; expected a playbook file");
                return null;
            }
            var tags = new List<string>();
            if (fields.TryGetValue("tags", out var tagsNode))
            {
                var listed = reader.Strings(tagsNode, $"{what} tags");
                if (tagsNode is not YamlSequenceNode list || listed.Count != list.Children.Count)
                    return null;
                tags.AddRange(listed.Select(t => t.Value));
            }
            var extraVars = new JsonObject();
            if (fields.TryGetValue("extra_vars", out var varsNode))
            {
                if (Vars(varsNode, $"{what} extra_vars") is not { } parsed)
                    return null;
                extraVars = parsed;
            }
            return new AnsibleStage(full, playbook, tags, extraVars);
        }

        /// <summary>An ansible stage needs python3 in the machine: a debootstrap image must list it among its packages.</summary>
        private void RequirePython(YamlNode stagesNode, string machine, ImageDefinition image, IEnumerable<StageDefinition> stages)
        {
            if (stages.FirstOrDefault(s => s.Ansible is not null) is { } stage && image.Bootstrap == "debootstrap"
                && !image.Packages.Any(p => p is "python3" or "python3-minimal" or "ansible" or "ansible-core"))
            {
                reader.Error(stagesNode, $"{machine} stage '{stage.Name}' runs Ansible, whose modules need python3 in the machine: add python3 to the packages of image '{image.Name}'");
            }
        }

        /// <summary>A YAML value as JSON: plain scalars read as YAML 1.2's core schema (booleans, null, numbers), quoted ones as strings.</summary>
        private static JsonNode? Json(YamlNode node) => node switch
        {
            YamlMappingNode mapping => new JsonObject(mapping.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", Json(kv.Value)))),
            YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(Json)]),
            YamlScalarNode scalar when scalar.Style is ScalarStyle.Plain => Plain(scalar.Value ?? ""),
            YamlScalarNode scalar => JsonValue.Create(scalar.Value ?? ""),
            _ => null,
        };

        private static JsonNode? Plain(string value) => value switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" or "True" or "TRUE" => JsonValue.Create(true),
            "false" or "False" or "FALSE" => JsonValue.Create(false),
            _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole) => JsonValue.Create(whole),
            _ when FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) => JsonValue.Create(real),
            _ => JsonValue.Create(value),
        };
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*\\z")]
    private static partial Regex AnsibleName();

    [GeneratedRegex("^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp[0-9]+|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\\.com) [A-Za-z0-9+/=]+")]
    private static partial Regex PublicKey();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\z")]
    private static partial Regex FloatPattern();
}
