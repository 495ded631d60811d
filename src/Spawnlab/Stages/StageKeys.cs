using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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

    public static string Of(string previous, StageDefinition stage)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(previous + "\n"));
        hash.AppendData(JsonSerializer.SerializeToUtf8Bytes(new
        {
            stage.Name,
            Files = stage.Files.Select(f => new { f.MachinePath, f.SourceAsWritten }),
            stage.Host,
            stage.Run,
            Checks = stage.Checks.Select(c => c.Describe()),
        }));
        foreach (var file in stage.Files)
            AppendContent(hash, file.Source);
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..24];
    }

    /// <summary>The content of a file, or of every file below a folder (names, modes and bytes), in a stable order.</summary>
    private static void AppendContent(IncrementalHash hash, string path)
    {
        if (File.Exists(path))
        {
            AppendFile(hash, path, Path.GetFileName(path));
            return;
        }
        foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            AppendFile(hash, file, Path.GetRelativePath(path, file));
    }

    private static void AppendFile(IncrementalHash hash, string path, string name)
    {
        hash.AppendData(Encoding.UTF8.GetBytes($"\0{name}\0{(int)File.GetUnixFileMode(path)}\0"));
        using var stream = File.OpenRead(path);
        var buffer = new byte[81920];
        int read;
        while ((read = stream.Read(buffer)) > 0)
            hash.AppendData(buffer.AsSpan(0, read));
    }

    public static string Short(string key) => key[..Math.Min(10, key.Length)];
}
