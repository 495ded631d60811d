using System.Text.Json;
using System.Text.Json.Serialization;
using Spawnlab.State;
using Spawnlab.Tests.Lifecycle;

namespace Spawnlab.Tests.State;

/// <summary>The state file is written as reflection-based System.Text.Json wrote it, so that every state on disk reads.</summary>
public sealed class StateFileSpecs : IDisposable
{
    private readonly FakeLab _lab = new();

    public void Dispose() => _lab.Dispose();

    // The options the state file was written with before its serializers were generated at build time.
    private static readonly JsonSerializerOptions Reflection = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    [Fact]
    public async Task A_lab_s_state_file_is_what_reflection_wrote_and_reads_back_the_same()
    {
        await _lab.UpAsync(_lab.Lab());
        var text = File.ReadAllText(Path.Combine(_lab.StateFolder, "labs", "unit", "state.json"));

        var byReflection = JsonSerializer.Deserialize<LabState>(text, Reflection)!;
        Assert.Equal(JsonSerializer.Serialize(byReflection, Reflection), text);
        Assert.Contains("\"kind\": \"network-namespace\"", text, StringComparison.Ordinal);
        Assert.Equal(text, JsonSerializer.Serialize(_lab.Controller.Store.Load("unit")!, Reflection));
    }
}
