using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;

namespace Spawnlab.Cli.Commands;

internal static class GraphCommand
{
    public static Command Create(CliContext cli)
    {
        var lab = new Argument<string?>("lab") { Description = "Only this lab: its name, or its lab file (drawn from the file alone when the lab is not up)", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--format") { Description = "ascii, mermaid or dot", DefaultValueFactory = _ => "ascii" };
        format.AcceptOnlyFromAmong("ascii", "mermaid", "dot");
        var json = new Option<bool>("--json") { Description = "Print the topology as JSON (the shape of `inventory --format json`)" };
        var command = new Command("graph", "Draw the topology: uplink and NAT, bridges with the host's address, machines with their interfaces") { lab, format, json };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var store = cli.Controller(result).Store;
            var (labs, machines) = result.GetValue(lab) is { } file && File.Exists(file) && store.Load(LabArgument.LabName(file)) is null
                ? TopologyGraph.FromFile(Spawnlab.Labs.LabParser.ParseFile(file))
                : await Up(LabArgument.Selected(store, result.GetValue(lab)));
            async Task<(IReadOnlyList<Spawnlab.State.LabState>, IReadOnlyList<MachineStatus>)> Up(List<Spawnlab.State.LabState> up) =>
                (up, await cli.Controller(result).StatusesWithLeasesAsync(up, cancellationToken));
            if (result.GetValue(json))
            {
                cli.Out.Write(Inventory.ToJson(labs, machines) + "\n");
                return 0;
            }
            cli.Out.Write(result.GetValue(format) switch
            {
                "mermaid" => TopologyGraph.Mermaid(labs, machines),
                "dot" => TopologyGraph.Dot(labs, machines),
                _ => TopologyGraph.Ascii(labs, machines),
            });
            return 0;
        }));
        return command;
    }
}
