using System.CommandLine;

namespace Spawnlab.Cli.Commands;

internal static class CleanCommand
{
    public static Command Create(CliContext cli)
    {
        var force = new Option<string?>("--force")
        {
            Description = "Take down lab LAB whatever became of its state (deleted, truncated): what the host holds under its names goes, running machines included",
            HelpName = "LAB",
        };
        var command = new Command("clean", "Remove what labs left behind: labs of which nothing runs any more, and leftovers of interrupted work") { force };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var controller = cli.Controller(result);
            var removed = result.GetValue(force) is { } lab
                ? await controller.ForceCleanAsync(lab, cancellationToken)
                : await controller.CleanAsync(cancellationToken);
            foreach (var line in removed)
                cli.Out.WriteLine($"removed {line}");
            cli.Error.WriteLine(removed.Count == 0 ? "nothing to clean" : $"cleaned {removed.Count} leftovers");
            return 0;
        }));
        return command;
    }
}
