using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Spawnlab;

/// <summary>
/// The types Spawnlab writes and reads as JSON in camelCase (the lab's state, `ls --json`), with their serializers
/// made at build time: the CLI is compiled ahead of time, where reflection cannot make them.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(State.LabState))]
[JsonSerializable(typeof(IReadOnlyList<Lifecycle.MachineStatus>))]
[JsonSerializable(typeof(Machines.MachineRunState))]
internal sealed partial class SpawnlabJson : JsonSerializerContext;

/// <summary>The options of the state file (apart from the context: the order of static fields across partial files is not defined).</summary>
internal static class StateJson
{
    /// <summary>The state file's options: camelCase names, and enums as kebab-case words ("network-namespace").</summary>
    public static readonly JsonSerializerOptions State = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        TypeInfoResolver = SpawnlabJson.Default,
        Converters =
        {
            new JsonStringEnumConverter<State.HostObjectKind>(JsonNamingPolicy.KebabCaseLower),
            new JsonStringEnumConverter<State.StageStatus>(JsonNamingPolicy.KebabCaseLower),
            new JsonStringEnumConverter<Labs.MachineKind>(JsonNamingPolicy.KebabCaseLower),
            new JsonStringEnumConverter<Labs.CheckKind>(JsonNamingPolicy.KebabCaseLower),
        },
    };

    public static JsonTypeInfo<T> StateTypeInfo<T>() => (JsonTypeInfo<T>)State.GetTypeInfo(typeof(T));
}

/// <summary>Small records Spawnlab keeps with the names of their C# properties (pool.json, kvm.json).</summary>
[JsonSerializable(typeof(Pool.PoolRecord))]
[JsonSerializable(typeof(Host.VmAccelProbe))]
internal sealed partial class PlainJson : JsonSerializerContext;

/// <summary>JSON built as nodes, in the order written: what keys are hashed from and what read commands print.</summary>
public static class JsonNodes
{
    public static System.Text.Json.Nodes.JsonArray Array(IEnumerable<string?> items) => [.. items.Select(i => (System.Text.Json.Nodes.JsonNode?)i)];

    public static System.Text.Json.Nodes.JsonArray Array(IEnumerable<System.Text.Json.Nodes.JsonNode?> items) => [.. items];

    private static readonly JsonSerializerOptions IndentedOptions = new() { WriteIndented = true, TypeInfoResolver = SpawnlabJson.Default };

    /// <summary>Compact JSON as System.Text.Json writes it by default (the form keys have always been hashed from).</summary>
    public static string Compact(System.Text.Json.Nodes.JsonNode node) => node.ToJsonString();

    /// <summary>Indented JSON, as read commands print it.</summary>
    public static string Indented(System.Text.Json.Nodes.JsonNode node) => node.ToJsonString(IndentedOptions);
}
