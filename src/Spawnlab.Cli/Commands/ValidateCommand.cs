using System.CommandLine;
using Spawnlab.Labs;

namespace Spawnlab.Cli.Commands;

internal static class ValidateCommand
{
    public static Command Create(CliContext cli)
    {
        var file = LabArgument.File("The lab file");
        var command = new Command("validate", "Check a lab file without touching the host") { file };
        command.SetAction(result => CommandRunner.RunAsync(cli, () =>
        {
            var lab = LabParser.ParseFile(result.GetValue(file)!);
            cli.Out.WriteLine($"{lab.FilePath}: lab {lab.Name} is valid ({lab.Images.Count} images, {lab.Networks.Count} networks, {lab.Machines.Count} machines)");
            return Task.FromResult(0);
        }));
        return command;
    }
}
