using System.Text.Json;

namespace Spawnlab.State;

/// <summary>
/// The state directory: one folder per lab with its state file and logs (the labs' locks are in <c>locks/</c>).
/// The state file is replaced atomically (written aside, flushed, renamed), so a crash never leaves half of it.
/// </summary>
public sealed class StateStore(string root)
{
    private static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<LabState> Json = StateJson.StateTypeInfo<LabState>();

    public string Root { get; } = Path.GetFullPath(root);

    public string LabsDirectory => Path.Combine(Root, "labs");

    public string LabDirectory(string lab) => Path.Combine(LabsDirectory, lab);

    /// <summary>A copy of a lab's state that nothing else changes.</summary>
    public static LabState Copy(LabState state) => JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(state, Json), Json)!;

    public string LogDirectory(string lab) => Path.Combine(LabDirectory(lab), "logs");

    /// <summary>The log of a machine's stage (its 1-based number first, so that a folder lists them in order).</summary>
    public string StageLog(string lab, string machine, int index, string stage) =>
        Path.Combine(LogDirectory(lab), machine, $"{index + 1:00}-{stage}.log");

    private string StateFile(string lab) => Path.Combine(LabDirectory(lab), "state.json");

    public LabState? Load(string lab)
    {
        var path = StateFile(lab);
        if (!File.Exists(path))
            return null;
        LabState? state;
        try
        {
            state = JsonSerializer.Deserialize(File.ReadAllText(path), Json);
        }
        catch (Exception e) when (e is JsonException or IOException or NotSupportedException)
        {
            throw new SpawnlabException($"state file {path} is unreadable: {e.Message}");
        }
        if (state is null || state.Lab != lab || state.Objects is null || state.Machines is null || state.Networks is null)
            throw new SpawnlabException($"state file {path} is unreadable: it is empty, or not the state of lab {lab}");
        return state;
    }

    /// <summary>Every lab whose state reads; a broken state file affects its own lab only (see <see cref="Unreadable"/>).</summary>
    public IReadOnlyList<LabState> LoadAll() => [.. ReadAll().Select(r => r.State).OfType<LabState>()];

    /// <summary>The labs whose state file exists but does not read, with why.</summary>
    public IReadOnlyList<(string Lab, string Problem)> Unreadable() =>
        [.. ReadAll().Where(r => r.Problem is not null).Select(r => (r.Lab, r.Problem!))];

    private IEnumerable<(string Lab, LabState? State, string? Problem)> ReadAll()
    {
        if (!Directory.Exists(LabsDirectory))
            yield break;
        foreach (var lab in Directory.EnumerateDirectories(LabsDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            LabState? state = null;
            string? problem = null;
            try
            {
                state = Load(lab!);
            }
            catch (SpawnlabException e)
            {
                problem = e.Message;
            }
            if (state is not null || problem is not null)
                yield return (lab!, state, problem);
        }
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
