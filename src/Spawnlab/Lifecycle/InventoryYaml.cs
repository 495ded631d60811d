using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Spawnlab.Lifecycle;

/// <summary>
/// JSON written as block YAML for Ansible, through YamlDotNet's emitter. A string is written plain only when no YAML
/// reader, Ansible's YAML 1.1 included, could take it for anything else ("yes", "10", "1:20", "~" are quoted).
/// </summary>
internal static partial class InventoryYaml
{
    public static string Write(JsonNode root)
    {
        using var text = new StringWriter();
        var emitter = new Emitter(text);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        Emit(emitter, root);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    private static void Emit(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject mapping:
                emitter.Emit(new MappingStart(null, null, isImplicit: true, MappingStyle.Block));
                foreach (var (key, value) in mapping)
                {
                    emitter.Emit(String(key));
                    Emit(emitter, value);
                }
                emitter.Emit(new MappingEnd());
                break;
            case JsonArray sequence:
                emitter.Emit(new SequenceStart(null, null, isImplicit: true, SequenceStyle.Block));
                foreach (var item in sequence)
                    Emit(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                emitter.Emit(String(value.GetValue<string>()));
                break;
            case JsonValue value:
                // Numbers and booleans as JSON writes them, which YAML reads back as the same.
                emitter.Emit(new Scalar(null, null, value.ToJsonString(), ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                break;
            default:
                emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                break;
        }
    }

    private static Scalar String(string value) =>
        new(null, null, value, IsPlainString(value) ? ScalarStyle.Plain : ScalarStyle.DoubleQuoted, isPlainImplicit: true, isQuotedImplicit: true);

    private static bool IsPlainString(string value) => PlainWord().IsMatch(value) && !YamlWord().IsMatch(value);

    [GeneratedRegex("^[A-Za-z/_][A-Za-z0-9_./+-]*$")]
    private static partial Regex PlainWord();

    // What YAML 1.1 reads as a boolean or null.
    [GeneratedRegex("^(y|n|yes|no|on|off|true|false|null)$", RegexOptions.IgnoreCase)]
    private static partial Regex YamlWord();
}
