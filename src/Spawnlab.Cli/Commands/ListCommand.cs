using System.CommandLine;
using System.Text.Json;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spectre.Console;

namespace Spawnlab.Cli.Commands;

internal static class ListCommand
{
    public static Command Create(CliContext cli)
    {
        var lab = new Argument<string?>("lab") { Description = "Only this lab (a name or a lab file)", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("ls", "List the machines of every lab, or of one lab") { lab, json };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var store = cli.Controller(result).Store;
            var only = result.GetValue(lab) is { } named ? LabArgument.LabName(named) : null;
            // A lab whose state does not read is named, so that it is not forgotten; the others are listed as usual.
            foreach (var (broken, problem) in store.Unreadable().Where(u => only is null || u.Lab == only))
                cli.Error.WriteLine($"spawnlab: lab {broken}: {problem}; `spawnlab clean --force {broken}` removes what it left");
            var labs = LabArgument.Selected(store, only);
            var machines = await cli.Controller(result).StatusesWithLeasesAsync(labs, cancellationToken);
            if (result.GetValue(json))
            {
                cli.Out.WriteLine(MachineStatus.ToJson(machines));
                return 0;
            }
            if (machines.Count == 0)
            {
                cli.Error.WriteLine("no machines");
                return 0;
            }
            var table = new Table().Border(TableBorder.Simple)
                .AddColumns("LAB", "MACHINE", "STATE", "USERS", "ADDRESSES", "MAC", "ROOT");
            foreach (var m in machines)
            {
                table.AddRow(
                    Markup.Escape(m.Lab),
                    Markup.Escape(m.Machine),
                    m.State switch { MachineRunState.Running => "[green]running[/]", MachineRunState.Orphaned => "[red]orphaned[/]", _ => "[yellow]stopped[/]" },
                    // Whose root the machine's root is: a user namespace of its own, or the host's.
                    m.Kind == Spawnlab.Labs.MachineKind.Vm ? "vm" : m.PrivateUsers ? "private" : "host",
                    Markup.Escape(string.Join("\n", m.Interfaces.Select(i => $"{i.Interface} {i.Address ?? "-"}"))),
                    Markup.Escape(string.Join("\n", m.Interfaces.Select(i => i.Mac))),
                    Markup.Escape(m.Root));
            }
            cli.OutConsole.Write(table);
            return 0;
        }));
        return command;
    }
}
