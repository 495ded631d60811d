using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Ansible;

/// <summary>
/// What an `ansible:` stage's result depends on besides its definition: the playbook, the playbooks it imports, the
/// files beside it that Ansible reads (ansible.cfg, group_vars, host_vars, templates, files, vars, tasks, handlers,
/// plugins), the task and vars files it names, and the roles of the plays that target the machine with the roles
/// those depend on or include. So editing a role's template reruns the stages whose plays use that role, and no other.
/// Where the playbook cannot be read (invalid YAML), its whole folder counts.
/// </summary>
public static partial class PlaybookInputs
{
    private static readonly string[] Beside =
        ["ansible.cfg", "group_vars", "host_vars", "templates", "files", "vars", "tasks", "handlers", "library", "module_utils", "filter_plugins", "lookup_plugins", "collections"];

    private static readonly string[] RoleKeys =
        ["include_role", "import_role", "ansible.builtin.include_role", "ansible.builtin.import_role"];

    private static readonly string[] FileKeys =
        ["include_tasks", "import_tasks", "include_vars", "ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include_vars", "vars_files"];

    /// <summary>The files and folders to hash, absolute, each once, in a stable order.</summary>
    /// <param name="host">The machine's name as the inventory gives it.</param>
    /// <param name="groups">Every group the machine is in (its lab's, its networks', the lab file's).</param>
    public static IReadOnlyList<string> Of(string playbook, string host, IReadOnlySet<string> groups)
    {
        var folder = Path.GetDirectoryName(playbook)!;
        var inputs = new SortedSet<string>(StringComparer.Ordinal);
        var roles = new HashSet<string>(StringComparer.Ordinal);
        if (!AddPlaybook(playbook, host, groups, inputs, roles, depth: 0))
            return [folder];
        foreach (var name in Beside)
        {
            if (Path.Exists(Path.Combine(folder, name)))
                inputs.Add(Path.Combine(folder, name));
        }
        var pending = new Queue<string>(roles);
        var seen = new HashSet<string>(roles, StringComparer.Ordinal);
        while (pending.TryDequeue(out var role))
        {
            var path = RolePath(folder, role);
            if (path is null)
                continue;
            inputs.Add(path);
            foreach (var more in RolesUsedBy(path).Where(seen.Add))
                pending.Enqueue(more);
        }
        return [.. inputs];
    }

    private static bool AddPlaybook(string playbook, string host, IReadOnlySet<string> groups, SortedSet<string> inputs, HashSet<string> roles, int depth)
    {
        if (depth > 10 || !File.Exists(playbook) || !inputs.Add(playbook))
            return true;
        if (Load(playbook) is not YamlSequenceNode plays)
            return false;
        var folder = Path.GetDirectoryName(playbook)!;
        foreach (var play in plays.Children.OfType<YamlMappingNode>())
        {
            if ((Scalar(play, "import_playbook") ?? Scalar(play, "ansible.builtin.import_playbook")) is { } imported)
            {
                if (!imported.Contains("{{", StringComparison.Ordinal) && !AddPlaybook(Path.GetFullPath(Path.Combine(folder, imported)), host, groups, inputs, roles, depth + 1))
                    return false;
                continue;
            }
            if (!Targets(play, host, groups))
                continue;
            if (Child(play, "roles") is YamlSequenceNode listed)
            {
                foreach (var role in listed.Children)
                {
                    if (role is YamlScalarNode { Value: { } name })
                        roles.Add(name);
                    else if (role is YamlMappingNode spec && (Scalar(spec, "role") ?? Scalar(spec, "name")) is { } named)
                        roles.Add(named);
                }
            }
            Walk(play, folder, roles, inputs);
        }
        return true;
    }

    /// <summary>Roles a task list includes and files it names (include_tasks, include_vars, vars_files), at any depth.</summary>
    private static void Walk(YamlNode node, string folder, HashSet<string> roles, SortedSet<string>? files)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (keyNode, value) in mapping.Children)
                {
                    var key = (keyNode as YamlScalarNode)?.Value ?? "";
                    if (RoleKeys.Contains(key) && (value is YamlMappingNode spec ? Scalar(spec, "name") : (value as YamlScalarNode)?.Value) is { } role)
                        roles.Add(role);
                    else if (files is not null && FileKeys.Contains(key))
                        AddFiles(value, folder, files);
                    Walk(value, folder, roles, files);
                }
                break;
            case YamlSequenceNode sequence:
                foreach (var child in sequence.Children)
                    Walk(child, folder, roles, files);
                break;
        }
    }

    private static void AddFiles(YamlNode value, string folder, SortedSet<string> files)
    {
        var names = value switch
        {
            YamlScalarNode { Value: { } one } => [one],
            YamlSequenceNode list => list.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? ""),
            YamlMappingNode spec => [Scalar(spec, "file") ?? ""],
            _ => [],
        };
        foreach (var name in names.Where(n => n.Length > 0 && !n.Contains("{{", StringComparison.Ordinal)))
        {
            var path = Path.GetFullPath(Path.Combine(folder, name));
            if (File.Exists(path))
                files.Add(path);
        }
    }

    /// <summary>The roles a role depends on (meta/main.yml) or includes from its tasks and handlers.</summary>
    private static IEnumerable<string> RolesUsedBy(string role)
    {
        var roles = new HashSet<string>(StringComparer.Ordinal);
        if (Load(Path.Combine(role, "meta", "main.yml")) is YamlMappingNode meta && Child(meta, "dependencies") is YamlSequenceNode dependencies)
        {
            foreach (var dependency in dependencies.Children)
            {
                if (dependency is YamlScalarNode { Value: { } name })
                    roles.Add(name);
                else if (dependency is YamlMappingNode spec && (Scalar(spec, "role") ?? Scalar(spec, "name")) is { } named)
                    roles.Add(named);
            }
        }
        foreach (var part in new[] { "tasks", "handlers" })
        {
            var folder = Path.Combine(role, part);
            if (!Directory.Exists(folder))
                continue;
            foreach (var file in Directory.EnumerateFiles(folder, "*.y*ml", SearchOption.AllDirectories))
            {
                if (Load(file) is { } tasks)
                    Walk(tasks, folder, roles, files: null);
            }
        }
        return roles;
    }

    /// <summary>A role by name: a folder of roles/ beside the playbook, or a path; null for a role from elsewhere (a collection).</summary>
    private static string? RolePath(string folder, string role)
    {
        var path = Path.GetFullPath(Path.Combine(folder, role.Contains('/') ? role : Path.Combine("roles", role)));
        return Directory.Exists(path) ? path : null;
    }

    /// <summary>
    /// Whether a play's `hosts:` takes this machine: names, groups and wildcards, joined by ':' or ',', with '&amp;'
    /// for intersections and '!' for exclusions, as Ansible reads them. A pattern with a template counts as taking it.
    /// </summary>
    internal static bool Targets(YamlMappingNode play, string host, IReadOnlySet<string> groups)
    {
        var hosts = Child(play, "hosts") switch
        {
            YamlScalarNode { Value: { } text } => text,
            YamlSequenceNode list => string.Join(',', list.Children.OfType<YamlScalarNode>().Select(s => s.Value)),
            _ => null,
        };
        if (hosts is null || hosts.Contains("{{", StringComparison.Ordinal))
            return true;
        bool Term(string term) =>
            term is "all" or "*" || term == host || groups.Contains(term)
            || (term.StartsWith('~') && Regex.IsMatch(host, term[1..]))
            || (term.IndexOfAny(['*', '?']) >= 0 && Wildcard(term) is var pattern && (pattern.IsMatch(host) || groups.Any(pattern.IsMatch)));
        var terms = hosts.Split([':', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var included = terms.Where(t => t[0] is not ('!' or '&')).Any(Term);
        return included && terms.Where(t => t[0] == '&').All(t => Term(t[1..])) && !terms.Where(t => t[0] == '!').Any(t => Term(t[1..]));
    }

    private static Regex Wildcard(string glob) =>
        new("^" + Regex.Escape(glob).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$");

    private static YamlNode? Load(string file)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(file)));
            return stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
        }
        catch (Exception e) when (e is IOException or YamlDotNet.Core.YamlException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static YamlNode? Child(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string? Scalar(YamlMappingNode mapping, string key) => (Child(mapping, key) as YamlScalarNode)?.Value;
}
