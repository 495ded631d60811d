using System.CommandLine;

namespace Spawnlab.Cli.Commands;

internal static class CleanCommand
{
    public static Command Create()
    {
        var command = new Command("clean", "Remove what labs left behind: labs of which nothing runs any more, and leftovers of interrupted work");
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var removed = await GlobalOptions.Controller(result).CleanAsync(cancellationToken);
            foreach (var line in removed)
                Console.WriteLine($"removed {line}");
            Console.Error.WriteLine(removed.Count == 0 ? "nothing to clean" : $"cleaned {removed.Count} leftovers");
            return 0;
        }));
        return command;
    }
}
