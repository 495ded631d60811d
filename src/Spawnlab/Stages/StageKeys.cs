using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Spawnlab.Labs;

namespace Spawnlab.Stages;

/// <summary>
/// Content-addressed stage keys: a stage's key hashes the previous stage's key, the stage's definition and the content
/// of every file it copies, so that a key is unchanged exactly when rerunning the stage could not give another result.
/// </summary>
public static class StageKeys
{
    public static IReadOnlyList<string> Compute(string baseKey, IReadOnlyList<StageDefinition> stages)
    {
        var keys = new List<string>(stages.Count);
        var previous = baseKey;
        foreach (var stage in stages)
        {
            previous = Of(previous, stage);
            keys.Add(previous);
        }
        return keys;
    }

    /// <summary>
    /// Keys of every machine's stages in a lab. A machine's `after:` enters its first key, a stage's `after:` that
    /// stage's key: a change to a stage reruns the stages of other machines that wait for it, and nothing else.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ComputeLab(
        LabDefinition lab, IReadOnlyDictionary<string, string> baseKeys, CancellationToken cancellationToken = default)
    {
        var memo = new Dictionary<LabGraph.Node, string>();
        string KeyOf(LabGraph.Node node)
        {
            if (memo.TryGetValue(node, out var known))
                return known;
            var machine = lab.Machines[node.Machine];
            string key;
            if (node.Stage is null)
            {
                key = Combine(baseKeys[machine.Name], machine.After.Select(r => KeyOf(LabGraph.Node.Of(r))));
            }
            else
            {
                var index = machine.Stages.ToList().FindIndex(s => s.Name == node.Stage);
                var previous = KeyOf(index == 0 ? LabGraph.Node.Boot(machine.Name) : new LabGraph.Node(machine.Name, machine.Stages[index - 1].Name));
                key = Of(Combine(previous, machine.Stages[index].After.Select(r => KeyOf(LabGraph.Node.Of(r)))), machine.Stages[index], AnsibleHost.Of(lab, machine), cancellationToken);
            }
            memo[node] = key;
            return key;
        }
        return lab.Machines.Values.ToDictionary(
            m => m.Name,
            m => (IReadOnlyList<string>)[.. m.Stages.Select(s => KeyOf(new LabGraph.Node(m.Name, s.Name)))],
            StringComparer.Ordinal);
    }

    /// <summary>The key a machine's stages start from: its base, and the keys of what its boot waits for.</summary>
    public static string Start(LabDefinition lab, string machine, string baseKey, IReadOnlyDictionary<string, IReadOnlyList<string>> keys) =>
        Combine(baseKey, lab.Machines[machine].After.Select(r => keys[r.Machine][lab.Machines[r.Machine].Stages.ToList().FindIndex(s => s.Name == r.Stage)]));

    private static string Combine(string key, IEnumerable<string> dependencies)
    {
        var list = dependencies.ToList();
        return list.Count == 0 ? key : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key + "|" + string.Join(",", list))))[..24];
    }

    /// <summary>A file to copy larger than this is refused: its hash alone would hold up every up.</summary>
    public const long MaxFileBytes = 2L * 1024 * 1024 * 1024;

    /// <param name="host">For an `ansible:` stage: the machine as the playbook sees it (its groups and vars).</param>
    public static string Of(string previous, StageDefinition stage, AnsibleHost? host = null, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(previous + "\n"));
        hash.AppendData(Encoding.UTF8.GetBytes(JsonNodes.Compact(new JsonObject
        {
            ["Name"] = stage.Name,
            ["Files"] = JsonNodes.Array(stage.Files.Select(f => (JsonNode)new JsonObject { ["MachinePath"] = f.MachinePath, ["SourceAsWritten"] = f.SourceAsWritten })),
            ["Host"] = stage.Host,
            ["Run"] = stage.Run,
            ["Checks"] = JsonNodes.Array(stage.Checks.Select(c => c.Describe())),
        })));
        foreach (var file in stage.Files)
            AppendContent(hash, file.Source, cancellationToken);
        if (stage.Ansible is { } ansible)
        {
            // What the playbook is given (tags, extra vars, the machine's groups and vars) and every file it reads.
            hash.AppendData(Encoding.UTF8.GetBytes(JsonNodes.Compact(new JsonObject
            {
                ["PlaybookAsWritten"] = ansible.PlaybookAsWritten,
                ["Tags"] = JsonNodes.Array(ansible.Tags),
                ["ExtraVars"] = ansible.ExtraVars.ToJsonString(),
                ["Groups"] = host is null ? null : JsonNodes.Array(host.Groups.Order(StringComparer.Ordinal)),
                ["Vars"] = host?.Vars,
            })));
            var folder = Path.GetDirectoryName(ansible.Playbook)!;
            foreach (var input in Ansible.PlaybookInputs.Of(ansible.Playbook, host?.Machine ?? "", host?.Groups ?? new HashSet<string>()))
            {
                hash.AppendData(Encoding.UTF8.GetBytes($"\0input\0{Path.GetRelativePath(folder, input)}\0"));
                AppendContent(hash, input, cancellationToken);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..24];
    }

    /// <summary>
    /// The content of a file, or of every file below a folder (names, modes and bytes), in a stable order. A link is
    /// hashed as where it points (it is copied as a link), and only a regular file's bytes are read, up to the size it
    /// had: a bound folder that a machine writes may hold a FIFO, a device or a link to one, which must not hang up.
    /// </summary>
    private static void AppendContent(IncrementalHash hash, string path, CancellationToken cancellationToken)
    {
        if (File.Exists(path))
        {
            AppendFile(hash, path, Path.GetFileName(path), cancellationToken);
            return;
        }
        foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            AppendFile(hash, file, Path.GetRelativePath(path, file), cancellationToken);
    }

    private static void AppendFile(IncrementalHash hash, string path, string name, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is { } target)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"\0{name}\0link\0{target}\0"));
            return;
        }
        var length = info.Length;
        if (length > MaxFileBytes)
            throw new SpawnlabException($"{path} is {length / (1024 * 1024)} MiB: files: copies at most {MaxFileBytes / (1024 * 1024)} MiB; bake large files into the image");
        hash.AppendData(Encoding.UTF8.GetBytes($"\0{name}\0{(int)File.GetUnixFileMode(path)}\0{length}\0"));
        // A FIFO or a device has no length: nothing is read from it.
        if (length == 0)
            return;
        using var stream = File.OpenRead(path);
        var buffer = new byte[81920];
        for (long left = length; left > 0;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = stream.Read(buffer.AsSpan(0, (int)Math.Min(buffer.Length, left)));
            if (read == 0)
                break;
            hash.AppendData(buffer.AsSpan(0, read));
            left -= read;
        }
    }

    public static string Short(string key) => key[..Math.Min(10, key.Length)];
}

/// <summary>A machine as a playbook sees it: its name, every group it is in, and its vars (the lab's, then its own) as JSON.</summary>
public sealed record AnsibleHost(string Machine, IReadOnlySet<string> Groups, string Vars)
{
    public static AnsibleHost Of(LabDefinition lab, MachineDefinition machine)
    {
        static string Group(string name) => name.Replace('-', '_');
        var groups = new HashSet<string>(StringComparer.Ordinal) { "all", Group(lab.Name) };
        groups.UnionWith(machine.Interfaces.Select(i => Group($"{lab.Name}_{i.Network}")));
        groups.UnionWith(machine.Groups);
        return new AnsibleHost(machine.Name, groups, lab.Vars.ToJsonString() + machine.Vars.ToJsonString());
    }
}
