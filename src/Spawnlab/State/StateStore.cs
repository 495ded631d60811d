using System.Text.Json;
using System.Text.Json.Serialization;

namespace Spawnlab.State;

/// <summary>
/// The state directory: one folder per lab with its state file, logs and lock.
/// The state file is replaced atomically (written aside, flushed, renamed), so a crash never leaves half of it.
/// </summary>
public sealed class StateStore(string root)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    public string Root { get; } = Path.GetFullPath(root);

    public string LabsDirectory => Path.Combine(Root, "labs");

    public string LabDirectory(string lab) => Path.Combine(LabsDirectory, lab);

    public string LogDirectory(string lab) => Path.Combine(LabDirectory(lab), "logs");

    private string StateFile(string lab) => Path.Combine(LabDirectory(lab), "state.json");

    public LabState? Load(string lab)
    {
        var path = StateFile(lab);
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonSerializer.Deserialize<LabState>(File.ReadAllText(path), Json)
                ?? throw new SpawnlabException($"state file {path} is empty");
        }
        catch (JsonException e)
        {
            throw new SpawnlabException($"state file {path} is unreadable: {e.Message}");
        }
    }

    public IReadOnlyList<LabState> LoadAll()
    {
        if (!Directory.Exists(LabsDirectory))
            return [];
        return Directory.EnumerateDirectories(LabsDirectory)
            .Order(StringComparer.Ordinal)
            .Select(dir => Load(Path.GetFileName(dir)))
            .OfType<LabState>()
            .ToList();
    }

    public void Save(LabState state)
    {
        Directory.CreateDirectory(LabDirectory(state.Lab));
        var path = StateFile(state.Lab);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, state, Json);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Forgets a lab whose objects are all gone; its logs go with it.</summary>
    public void Delete(string lab)
    {
        var directory = LabDirectory(lab);
        if (Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
    }
}
