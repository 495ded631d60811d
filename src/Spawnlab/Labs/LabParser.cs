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

    /// <summary>What a tarball's name ends with, for bootstrap: tarball and image export (tar finds the compression).</summary>
    public static readonly IReadOnlyList<string> TarballSuffixes = [".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst"];

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
            if (Unclosed(text) is { } open)
                reader.Error(open.Line, open.Column, open.Message);
            else if (IndentingTab(text, anyLine: message.Contains("tab", StringComparison.Ordinal)) is { } tab)
                reader.Error(tab.Line, tab.Column, "invalid YAML: a tab in the indentation; YAML indents with spaces");
            else
                reader.Error(e.Start.Line, e.Start.Column, $"invalid YAML: {message}");
            throw new LabFileException(reader.Errors);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // YamlDotNet gives up on some malformed input without saying where: find the likely cause.
            if (Unclosed(text) is { } open)
                reader.Error(open.Line, open.Column, open.Message);
            else if (IndentingTab(text) is { } tab)
                reader.Error(tab.Line, tab.Column, "invalid YAML: a tab in the indentation; YAML indents with spaces");
            else
                reader.Error(1, 1, $"invalid YAML: the file could not be parsed ({e.Message})");
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

    /// <summary>
    /// The first tab among the spaces that start a line, where a YAML error most likely comes from; with
    /// <paramref name="anyLine"/>, on a line of only spaces and tabs too (when the parser complained of a tab).
    /// </summary>
    private static (int Line, int Column)? IndentingTab(string text, bool anyLine = false)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var indentation = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            if (lines[i].IndexOf('\t', 0, indentation) is >= 0 and var column && (anyLine || lines[i].Trim().Length > 0))
                return (i + 1, column + 1);
        }
        return null;
    }

    /// <summary>
    /// A flow mapping ('{') or sequence ('[') that is never closed, or a quoted scalar that never ends, read by
    /// YamlDotNet's scanner: where it opened and what is missing; null when every one is closed.
    /// </summary>
    private static (int Line, int Column, string Message)? Unclosed(string text)
    {
        var open = new Stack<(YamlDotNet.Core.Tokens.Token Token, Mark Start)>();
        var scanner = new Scanner(new StringReader(text), skipComments: true);
        try
        {
            // The scanner alone does not end on every malformed input. A lab file has at most a few tokens per
            // character (most take one or more; keys, values and block starts and ends take none).
            for (var tokens = 0; tokens <= 4 * text.Length + 16 && scanner.MoveNext(); tokens++)
            {
                switch (scanner.Current)
                {
                    case YamlDotNet.Core.Tokens.FlowMappingStart or YamlDotNet.Core.Tokens.FlowSequenceStart:
                        open.Push((scanner.Current, scanner.Current.Start));
                        break;
                    case YamlDotNet.Core.Tokens.FlowMappingEnd or YamlDotNet.Core.Tokens.FlowSequenceEnd when open.Count > 0:
                        open.Pop();
                        break;
                }
            }
        }
        catch (YamlException e) when (e.Message.Contains("quoted scalar", StringComparison.Ordinal) && !e.Message.Contains("escape", StringComparison.Ordinal))
        {
            return ((int)e.Start.Line, (int)e.Start.Column, "invalid YAML: this quoted string is never closed: its closing quote is missing");
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException or ArgumentException)
        {
            // Another error: the innermost collection still open when it happened is the likeliest cause, if any.
        }
        if (!open.TryPeek(out var innermost))
            return null;
        var (what, close) = innermost.Token is YamlDotNet.Core.Tokens.FlowMappingStart ? ("mapping '{'", '}') : ("list '['", ']');
        return ((int)innermost.Start.Line, (int)innermost.Start.Column, $"invalid YAML: the {what} opened here is never closed: a '{close}' is missing");
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

    private sealed partial class Builder(YamlNodeReader reader, string filePath)
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
            var fields = reader.Fields(top, "lab file", LabSchema.Lab.Keys);

            string? name = null;
            if (!fields.TryGetValue("lab", out var nameNode))
                reader.Error(top, "lab file: missing key 'lab' (the lab's name)");
            else if (reader.String(nameNode, "lab") is { } labName)
                name = CheckName(nameNode, labName, "lab", LabName(), MaxLabNameLength, "a lowercase letter followed by lowercase letters, digits or '-'");

            // A reference to an image or network that is declared but invalid was already reported there.
            _declaredImages = Declared(fields.GetValueOrDefault("images"));
            var images = fields.TryGetValue("images", out var imagesNode) ? Images(imagesNode) : [];
            var networks = fields.TryGetValue("networks", out var networksNode) ? Networks(networksNode) : [];
            _declaredNetworks = Declared(networksNode);
            CheckOverlaps(networks);
            var machines = new Dictionary<string, MachineDefinition>(StringComparer.Ordinal);
            if (!fields.TryGetValue("machines", out var machinesNode))
                reader.Error(top, "lab file: missing key 'machines'");
            else
                machines = Machines(machinesNode, images, networks);

            LabGraph.Validate(machines, reader, Declared(machinesNode));
            var vars = fields.TryGetValue("vars", out var varsNode) ? Vars(varsNode, "lab vars") : [];
            var authorizedKeys = fields.TryGetValue("ssh", out var sshNode) ? AuthorizedKeys(sshNode) : [];
            var engine = Engine(fields);
            // What LXD cannot run is said even when the lxd: settings are wrong too: every problem at once.
            if (fields.TryGetValue("engine", out var engineNode) && engineNode is YamlScalarNode { Value: "lxd" })
                CheckLxdLimits(engineNode, networks.ToDictionary(kv => kv.Key, kv => kv.Value.Definition), machines);

            if (name is null || vars is null || authorizedKeys is null || engine is null)
                return null;
            var (labEngine, lxd) = engine.Value;
            return new LabDefinition(
                name, filePath,
                images.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal),
                networks.ToDictionary(kv => kv.Key, kv => kv.Value.Definition, StringComparer.Ordinal),
                machines)
            {
                Vars = vars,
                AuthorizedKeys = authorizedKeys,
                Engine = labEngine,
                Lxd = lxd,
            };
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

        /// <summary>A name as it can be printed on one line: control characters as escapes.</summary>
        private static string Printable(string value) =>
            string.Concat(value.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));

        private static string List(IEnumerable<string> names) =>
            names.Any() ? string.Join(", ", names) : "(none defined)";
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]*\\z")]
    internal static partial Regex StageName();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)?\z")]
    private static partial Regex DurationPattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9+.-]+\\z")]
    private static partial Regex PackageName();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*\\z")]
    private static partial Regex InterfaceName();
}
