using System.Text.Json;
using System.Text.Json.Serialization;
using Spawnlab.Labs;

namespace Spawnlab.Images;

/// <summary>What an image of the pool was made from, kept beside it as NAME-KEY.json for `image ls`.</summary>
public sealed record ImageRecord(
    string Name,
    string Bootstrap,
    string? Source,
    string? Parent,
    IReadOnlyList<string> Packages,
    DateTimeOffset Made)
{
    public static string FileOf(string path) => path + ".json";

    public static void Write(string path, ImageDefinition image, string? parent)
    {
        var source = image.Bootstrap switch
        {
            ImageDefinition.TarballMethod => image.Tarball,
            ImageDefinition.CommandMethod => image.Command,
            ImageDefinition.Derived => null,
            _ => image.Suite,
        };
        var record = new ImageRecord(image.Name, image.Bootstrap, source, parent is null ? null : Path.GetFileName(parent), image.Packages, DateTimeOffset.UtcNow);
        File.WriteAllText(FileOf(path), JsonSerializer.Serialize(record, ImageRecordJson.Default.ImageRecord));
    }

    /// <summary>The record beside an image, or null for an image made before records were kept (or a record that does not read).</summary>
    public static ImageRecord? Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(FileOf(path)), ImageRecordJson.Default.ImageRecord);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(ImageRecord))]
internal sealed partial class ImageRecordJson : JsonSerializerContext;
