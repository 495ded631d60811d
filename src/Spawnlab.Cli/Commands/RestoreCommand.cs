using System.CommandLine;
using System.Diagnostics;

namespace Spawnlab.Cli.Commands;

internal static class RestoreCommand
{
    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string>("machine") { Description = "MACHINE or LAB/MACHINE" };
        var stage = new Argument<string>("stage") { Description = "The stage to go back to: the machine is put back to just after it" };
        var command = new Command("restore", "Put a machine back to just after one of its stages and restart it") { machine, stage };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var clock = Stopwatch.StartNew();
            await cli.Controller(result).RestoreAsync(result.GetValue(machine)!, result.GetValue(stage)!, cancellationToken);
            cli.Error.WriteLine($"{result.GetValue(machine)} is back after stage {result.GetValue(stage)} ({clock.Elapsed.TotalSeconds:0.00} s)");
            return 0;
        }));
        return command;
    }
}
