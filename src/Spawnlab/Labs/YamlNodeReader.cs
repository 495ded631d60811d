using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

/// <summary>
/// Reads a YAML representation tree into typed values, collecting every problem with its line and column
/// instead of stopping at the first, so that a user fixes a lab file in one pass.
/// </summary>
internal sealed class YamlNodeReader(string file)
{
    private readonly List<LabError> _errors = [];

    public IReadOnlyList<LabError> Errors => _errors;

    public void Error(YamlNode node, string message) =>
        _errors.Add(new LabError(file, (int)node.Start.Line, (int)node.Start.Column, message));

    public void Error(long line, long column, string message) =>
        _errors.Add(new LabError(file, (int)line, (int)column, message));

    public YamlMappingNode? Mapping(YamlNode node, string what)
    {
        if (node is YamlMappingNode mapping)
            return mapping;
        Error(node, $"{what}: expected a mapping, found {Describe(node)}");
        return null;
    }

    public string? String(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Value: { } value } scalar && !IsNull(scalar))
            return value;
        Error(node, $"{what}: expected a string, found {Describe(node)}");
        return null;
    }

    public bool? Bool(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Value: { } value } && !IsQuoted(node))
        {
            switch (value)
            {
                case "true" or "True" or "TRUE" or "yes":
                    return true;
                case "false" or "False" or "FALSE" or "no":
                    return false;
            }
        }
        Error(node, $"{what}: expected true or false, found {Describe(node)}");
        return null;
    }

    public int? Integer(YamlNode node, string what)
    {
        if (node is YamlScalarNode { Value: { } value } && !IsQuoted(node)
            && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
            return number;
        Error(node, $"{what}: expected a whole number, found {Describe(node)}");
        return null;
    }

    /// <summary>A list of strings; a single string is not accepted, so that a forgotten pair of brackets is caught.</summary>
    public List<(string Value, YamlNode Node)> Strings(YamlNode node, string what)
    {
        var result = new List<(string, YamlNode)>();
        if (node is not YamlSequenceNode sequence)
        {
            Error(node, $"{what}: expected a list, found {Describe(node)}");
            return result;
        }
        foreach (var item in sequence.Children)
        {
            if (String(item, $"{what} item") is { } value)
                result.Add((value, item));
        }
        return result;
    }

    /// <summary>
    /// The entries of a mapping whose keys are names chosen by the user (machines, networks, images).
    /// Keys must be plain strings.
    /// </summary>
    public IEnumerable<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlMappingNode mapping, string what)
    {
        foreach (var (keyNode, value) in mapping.Children)
        {
            if (keyNode is YamlScalarNode { Value: { } key } && !IsNull(keyNode))
                yield return (key, keyNode, value);
            else
                Error(keyNode, $"{what}: expected a name as key, found {Describe(keyNode)}");
        }
    }

    /// <summary>The entries of a mapping with a fixed set of keys; any other key is reported with the keys allowed there.</summary>
    public Dictionary<string, YamlNode> Fields(YamlMappingNode mapping, string what, params string[] allowed)
    {
        var fields = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (key, keyNode, value) in Entries(mapping, what))
        {
            // A key that is no name is not quoted back: a lab file may be a link to a file that holds secrets.
            if (!allowed.Contains(key))
                Error(keyNode, $"{what}: unknown key {(key.Length <= 40 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? $"'{key}'" : "(not a name)")}, expected one of: {string.Join(", ", allowed)}");
            else
                fields[key] = value;
        }
        return fields;
    }

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode scalar && scalar.Style is YamlDotNet.Core.ScalarStyle.Plain
        && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    private static bool IsQuoted(YamlNode node) =>
        node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted };

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode scalar when IsNull(scalar) => "nothing",
        YamlScalarNode { Value: var value } => $"'{Truncate(value ?? "", 40)}'",
        _ => "an alias",
    };

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";
}
