using System.CommandLine;
using Spawnlab.Checks;

namespace Spawnlab.Cli.Commands;

internal static class TestCommand
{
    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string?>("machine") { Description = "Only this machine (MACHINE or LAB/MACHINE), or this lab (LAB)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("test", "Run the checks of every stage the machines have passed, without running any stage")
        {
            machine, CheckOutput.Report, CheckOutput.JUnit,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var results = await cli.Controller(result).TestAsync(result.GetValue(machine), cancellationToken);
            CheckOutput.Write(cli, result, results);
            if (results.Count == 0)
                cli.Error.WriteLine("no checks to run");
            return results.Any(r => r.Outcome == CheckOutcome.Failed) ? 1 : 0;
        }));
        return command;
    }
}
