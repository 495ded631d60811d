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
}
