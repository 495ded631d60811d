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
return await root.Parse(tokens).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });
