using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private sealed partial class Builder
    {
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
            var fields = reader.Fields(body, $"{machine} stage", LabSchema.Stage.Keys);
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
            AnsibleStage? ansible = null;
            if (fields.TryGetValue("ansible", out var ansibleNode) && (ansible = Ansible(ansibleNode, $"{what} ansible")) is null)
                ok = false;
            if (runNode is not null && ansibleNode is not null)
            {
                reader.Error(ansibleNode, $"{what}: a stage runs a script (run) or a playbook (ansible), not both");
                ok = false;
            }
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
            return ok ? new StageDefinition(name, files, host, run, checks) { After = after, Timeout = timeout, Ansible = ansible } : null;
        }

        private CheckDefinition? Check(YamlNode node, string stage)
        {
            var what = $"{stage} check";
            if (reader.Mapping(node, what) is not { } body)
                return null;
            var kinds = body.Children.Keys.OfType<YamlScalarNode>().Where(k => k.Value is not null && LabSchema.CheckKinds.ContainsKey(k.Value)).ToList();
            if (kinds.Count != 1)
            {
                reader.Error(body, kinds.Count == 0
                    ? $"{what}: expected one of the check kinds {string.Join(", ", LabSchema.CheckKinds.Keys)}"
                    : $"{what}: one check has one kind; found {string.Join(" and ", kinds.Select(k => k.Value))}");
                return null;
            }
            var kindName = kinds[0].Value!;
            var (kind, options) = LabSchema.CheckKinds[kindName];
            var fields = reader.Fields(body, $"{what} '{kindName}'", [kindName, "timeout", .. options.Select(o => o.Key)]);
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
            if (fields.TryGetValue("send", out var sendNode))
            {
                var send = reader.String(sendNode, $"{what} send");
                check = check with { Send = send };
                ok &= send is not null;
            }
            if (kind == CheckKind.Console)
            {
                try
                {
                    _ = new Regex(target);
                }
                catch (ArgumentException e)
                {
                    reader.Error(fields[kindName], $"{what} console: '{target}' is not a regular expression: {e.Message}");
                    ok = false;
                }
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
    }
}
