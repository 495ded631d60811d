using System.CommandLine;
using System.Diagnostics;

namespace Spawnlab.Cli.Commands;

internal static class RollbackCommand
{
    public static Command Create(CliContext cli)
    {
        var stage = new Argument<string>("stage") { Description = "MACHINE/STAGE (or LAB/MACHINE/STAGE): the machine goes back to just after it" };
        var command = new Command("rollback",
            "Put a machine back to just after a stage, and every machine whose stages depend on a later stage of it back to its last stage that does not")
        {
            stage,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var clock = Stopwatch.StartNew();
            var moved = await cli.Controller(result).RollbackAsync(result.GetValue(stage)!, cancellationToken);
            foreach (var line in moved)
                cli.Out.WriteLine(line);
            cli.Error.WriteLine($"rolled back {moved.Count} machines in {clock.Elapsed.TotalSeconds:0.00} s");
            return 0;
        }));
        return command;
    }
}
