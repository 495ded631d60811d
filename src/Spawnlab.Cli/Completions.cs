using System.CommandLine;
using System.CommandLine.Completions;
using Spawnlab.State;

namespace Spawnlab.Cli;

/// <summary>
/// What the shell completes, from the recorded state (never from the host: completing must be quick and harmless):
/// lab names and lab files, machines, MACHINE/STAGE. Shells ask through System.CommandLine's [suggest] directive,
/// from the scripts of `spawnlab completion bash|zsh`.
/// </summary>
internal static class Completions
{
    /// <summary>Gives each argument of the tree the completions its name calls for.</summary>
    public static void Add(CliContext cli, IEnumerable<Command> commands)
    {
        foreach (var command in commands)
        {
            var machine = command.Arguments.FirstOrDefault(a => a.Name == "machine");
            foreach (var argument in command.Arguments)
            {
                Func<CompletionContext, IEnumerable<string>>? source = (argument.Name, command.Name) switch
                {
                    ("machine", _) => context => Machines(Labs(cli, context)).Select(m => m.Reference),
                    ("lab" or "file", _) => context => Labs(cli, context).Select(l => l.Lab).Concat(LabFiles()),
                    ("stage", "rollback") => context => Machines(Labs(cli, context)).SelectMany(m => m.Machine.Stages.Select(s => $"{m.Reference}/{s.Name}")),
                    ("stage", _) when machine is not null => context => StagesOf(cli, context, machine),
                    _ => null,
                };
                if (source is not null)
                    argument.CompletionSources.Add(context => source(context).Distinct().Order(StringComparer.Ordinal).Select(text => new CompletionItem(text)));
            }
        }
    }

    private static IReadOnlyList<LabState> Labs(CliContext cli, CompletionContext context)
    {
        try
        {
            return cli.Controller(context.ParseResult).Store.LoadAll();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SpawnlabException)
        {
            return [];
        }
    }

    /// <summary>Every machine as commands take it: MACHINE, or LAB/MACHINE when another lab has a machine of that name too.</summary>
    private static IEnumerable<(string Reference, MachineState Machine)> Machines(IReadOnlyList<LabState> labs)
    {
        var all = labs.SelectMany(l => l.Machines.Values.Select(m => (Lab: l.Lab, Machine: m))).ToList();
        return all.Select(m => (all.Count(o => o.Machine.Name == m.Machine.Name) > 1 ? $"{m.Lab}/{m.Machine.Name}" : m.Machine.Name, m.Machine));
    }

    private static IEnumerable<string> StagesOf(CliContext cli, CompletionContext context, Argument machine)
    {
        var reference = context.ParseResult.GetResult(machine)?.Tokens.FirstOrDefault()?.Value;
        if (reference is null)
            return [];
        var slash = reference.IndexOf('/');
        return Labs(cli, context)
            .Where(l => slash < 0 || l.Lab == reference[..slash])
            .SelectMany(l => l.Machines.Values.Where(m => m.Name == (slash < 0 ? reference : reference[(slash + 1)..])))
            .SelectMany(m => m.Stages.Select(s => s.Name));
    }

    private static IEnumerable<string> LabFiles() =>
        Directory.EnumerateFiles(".", "*.y*ml").Select(Path.GetFileName).Where(f => f!.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))!;
}
