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
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });
