using System.CommandLine;
using Spawnlab.Labs;

namespace Spawnlab.Cli.Commands;

internal static class LabArgument
{
    public const string DefaultFile = "lab.yaml";

    public static Argument<string> File(string description) => new("file")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        DefaultValueFactory = _ => DefaultFile,
    };

    /// <summary>A lab named directly, or through its lab file (only its name is needed; the rest may have changed).</summary>
    public static string LabName(string fileOrName)
    {
        if (System.IO.File.Exists(fileOrName))
            return LabParser.ReadName(fileOrName);
        if (LabParser.LabName().IsMatch(fileOrName) && !fileOrName.Contains('.'))
            return fileOrName;
        throw new SpawnlabException($"{fileOrName} is neither a lab file nor a lab's name", exitCode: 2);
    }

    /// <summary>
    /// The labs a read command shows: every lab that is up, or the one named (by its name or its lab file). A lab that
    /// is not up is exit code 2, naming the labs that are; one whose state does not read is up, and shows nothing.
    /// </summary>
    public static List<Spawnlab.State.LabState> Selected(Spawnlab.State.StateStore store, string? fileOrName)
    {
        var labs = store.LoadAll();
        if (fileOrName is null)
            return [.. labs];
        var name = LabName(fileOrName);
        if (labs.Where(l => l.Lab == name).ToList() is { Count: > 0 } found)
            return found;
        return store.Unreadable().Any(u => u.Lab == name) ? [] : throw NotUp(name, labs);
    }

    public static SpawnlabException NotUp(string name, IReadOnlyList<Spawnlab.State.LabState> labs) =>
        new($"no lab {name} is up; " + (labs.Count == 0 ? "no lab is up" : $"labs up: {string.Join(", ", labs.Select(l => l.Lab).Order(StringComparer.Ordinal))}"), exitCode: 2);
}
