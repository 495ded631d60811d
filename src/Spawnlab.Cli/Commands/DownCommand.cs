using System.CommandLine;
using System.Diagnostics;

namespace Spawnlab.Cli.Commands;

internal static class DownCommand
{
    public static Command Create(CliContext cli)
    {
        var lab = LabArgument.File("The lab file or the lab's name (default: lab.yaml)");
        var purge = new Option<bool>("--purge") { Description = "Also delete the lab's images that no other lab uses" };
        var command = new Command("down", "Stop a lab's machines and remove everything it made on the host") { lab, purge };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var name = LabArgument.LabName(result.GetValue(lab)!);
            var clock = Stopwatch.StartNew();
            await cli.Controller(result).DownAsync(name, result.GetValue(purge), cancellationToken);
            cli.Error.WriteLine($"lab {name} is down ({clock.Elapsed.TotalSeconds:0.0} s)");
            return 0;
        }));
        return command;
    }
}
