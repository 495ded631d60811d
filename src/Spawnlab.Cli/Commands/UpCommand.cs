using System.CommandLine;
using System.Diagnostics;
using Spawnlab.Labs;

namespace Spawnlab.Cli.Commands;

internal static class UpCommand
{
    public static Command Create()
    {
        var file = LabArgument.File("The lab file (default: lab.yaml)");
        var command = new Command("up", "Bring a lab up: bootstrap its images once, make its networks, boot its machines") { file, GlobalOptions.Driver };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var lab = LabParser.ParseFile(result.GetValue(file)!);
            var clock = Stopwatch.StartNew();
            var state = await GlobalOptions.Controller(result).UpAsync(lab, cancellationToken);
            Console.Error.WriteLine($"lab {lab.Name} is up: {state.Machines.Count} machines ready in {clock.Elapsed.TotalSeconds:0.0} s");
            return 0;
        }));
        return command;
    }
}
