using System.CommandLine;
using Spawnlab.Cli;
using Spawnlab.Cli.Commands;

var root = new RootCommand("Spawnlab: a lab file becomes a running multi-machine test network of systemd-nspawn machines, and goes away without a trace.");
root.Options.Add(GlobalOptions.StateDirectory);
root.Options.Add(GlobalOptions.NoWait);
root.Subcommands.Add(ValidateCommand.Create());
root.Subcommands.Add(UpCommand.Create());
root.Subcommands.Add(DownCommand.Create());
root.Subcommands.Add(ListCommand.Create());
root.Subcommands.Add(ExecCommand.Create());
root.Subcommands.Add(ShellCommand.Create());
root.Subcommands.Add(StagesCommand.Create());
root.Subcommands.Add(RestoreCommand.Create());
root.Subcommands.Add(RollbackCommand.Create());
root.Subcommands.Add(TestCommand.Create());
root.Subcommands.Add(InventoryCommand.Create());
root.Subcommands.Add(GraphCommand.Create());
root.Subcommands.Add(LogsCommand.Create());
root.Subcommands.Add(CleanCommand.Create());
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(PoolCommand.Create());
// Ctrl-C cancels the running command, which then stops cleanly (no stage snapshot, state saved) and exits 130.
// "--option=value" is split here: System.CommandLine's own split takes a value ending in "/spawnlab" (the default
// state directory) for the program's path and drops it.
var tokens = args.TakeWhile(a => a != "--").SelectMany(a => a.StartsWith("--", StringComparison.Ordinal) && a.IndexOf('=') is > 2 and var at
        ? new[] { a[..at], a[(at + 1)..] }
        : [a])
    .Concat(args.SkipWhile(a => a != "--"))
    .ToArray();
// An option this command does not know would otherwise be taken for the value of an optional argument.
foreach (var argument in Subcommands(root).SelectMany(c => c.Arguments).Where(a => a.Name != "command"))
{
    argument.Validators.Add(result =>
    {
        if (result.Tokens.FirstOrDefault(t => t.Value.StartsWith('-') && t.Value.Length > 1) is { } token)
            result.AddError($"unknown option '{token.Value}'");
    });
}
var parsed = root.Parse(tokens);
if (parsed.Errors.Count > 0 && !tokens.Any(t => t is "-h" or "--help" or "-?"))
{
    // Invalid input: one line each, the exit code of invalid input.
    foreach (var error in parsed.Errors)
        Console.Error.WriteLine($"spawnlab: {error.Message}");
    Console.Error.WriteLine($"see `spawnlab {string.Join(' ', parsed.CommandResult.Command == root ? [] : new[] { parsed.CommandResult.Command.Name })} --help`".Replace("  ", " ", StringComparison.Ordinal));
    return 2;
}
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });

static IEnumerable<Command> Subcommands(Command command) => command.Subcommands.SelectMany(c => Subcommands(c).Prepend(c));
