using System.CommandLine;
using Spawnlab.Cli.Commands;

namespace Spawnlab.Cli;

/// <summary>The command line: parses the arguments, runs the command, returns its exit code; all output goes through <see cref="CliContext"/>.</summary>
internal static class SpawnlabCli
{
    public static async Task<int> RunAsync(string[] args, CliContext cli)
    {
        var root = Root(cli);
        // Completions come from the recorded state only when a shell asks for them: help would list them as well.
        if (args.FirstOrDefault()?.StartsWith("[suggest", StringComparison.Ordinal) == true)
            Completions.Add(cli, Subcommands(root));
        var tokens = Tokens(args);
        var parsed = root.Parse(tokens);
        if (parsed.Errors.Count > 0 && !tokens.Any(t => t is "-h" or "--help" or "-?"))
        {
            // Invalid input: one line each, the exit code of invalid input.
            foreach (var error in parsed.Errors)
                cli.Error.WriteLine($"spawnlab: {error.Message}");
            cli.Error.WriteLine($"see `spawnlab {string.Join(' ', parsed.CommandResult.Command == root ? [] : new[] { parsed.CommandResult.Command.Name })} --help`".Replace("  ", " ", StringComparison.Ordinal));
            return 2;
        }
        // Ctrl-C cancels the running command, which then stops cleanly (no stage snapshot, state saved) and exits 130.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60), Output = cli.Out, Error = cli.Error });
    }

    private static RootCommand Root(CliContext cli)
    {
        var root = new RootCommand("Spawnlab: a lab file becomes a running multi-machine test network of systemd-nspawn machines, and goes away without a trace.");
        root.Options.Add(GlobalOptions.StateDirectory);
        root.Options.Add(GlobalOptions.NoWait);
        foreach (var command in (Command[])[
            ValidateCommand.Create(cli), UpCommand.Create(cli), DownCommand.Create(cli), ListCommand.Create(cli), ExecCommand.Create(cli),
            ShellCommand.Create(cli), ConsoleCommand.Create(cli), CpCommand.Create(cli), StagesCommand.Create(cli), RestoreCommand.Create(cli), RollbackCommand.Create(cli), TestCommand.Create(cli),
            InventoryCommand.Create(cli), GraphCommand.Create(cli), LogsCommand.Create(cli), CleanCommand.Create(cli), DoctorCommand.Create(cli),
            PoolCommand.Create(cli), ImageCommand.Create(cli), CompletionCommand.Create(cli), SchemaCommand.Create(cli)])
        {
            root.Subcommands.Add(command);
        }
        // An option this command does not know would otherwise be taken for the value of an optional argument.
        foreach (var argument in Subcommands(root).SelectMany(c => c.Arguments).Where(a => a.Name != "command"))
        {
            argument.Validators.Add(result =>
            {
                if (result.Tokens.FirstOrDefault(t => t.Value.StartsWith('-') && t.Value.Length > 1) is { } token)
                    result.AddError($"unknown option '{token.Value}'");
            });
        }
        return root;
    }

    /// <summary>
    /// Ansible runs an executable inventory as `EXE --list` and `EXE --host NAME`: spawnlab answers as `spawnlab
    /// inventory` does. "--option=value" is split here: System.CommandLine's own split takes a value ending in "/spawnlab" (the default
    /// state directory) for the program's path and drops it.
    /// </summary>
    private static string[] Tokens(string[] args)
    {
        string[] tokens = [.. args.TakeWhile(a => a != "--").SelectMany(a => a.StartsWith("--", StringComparison.Ordinal) && a.IndexOf('=') is > 2 and var at
                ? new[] { a[..at], a[(at + 1)..] }
                : [a])
            .Concat(args.SkipWhile(a => a != "--"))];
        var first = 0;
        while (first < tokens.Length && tokens[first] is "--state-dir" or "--no-wait")
            first += tokens[first] == "--state-dir" ? 2 : 1;
        return first < tokens.Length && tokens[first] is "--list" or "--host" ? [.. tokens[..first], "inventory", .. tokens[first..]] : tokens;
    }

    private static IEnumerable<Command> Subcommands(Command command) => command.Subcommands.SelectMany(c => Subcommands(c).Prepend(c));
}
