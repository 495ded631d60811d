using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;

namespace Spawnlab.Cli.Commands;

internal static class GraphCommand
{
    public static Command Create(CliContext cli)
    {
        var lab = new Argument<string?>("lab") { Description = "Only this lab", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--format") { Description = "ascii, mermaid or dot", DefaultValueFactory = _ => "ascii" };
        format.AcceptOnlyFromAmong("ascii", "mermaid", "dot");
        var command = new Command("graph", "Draw the topology: uplink and NAT, bridges with the host's address, machines with their interfaces") { lab, format };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var labs = cli.Controller(result).Store.LoadAll().Where(l => result.GetValue(lab) is not { } only || l.Lab == only).ToList();
            var machines = await cli.Controller(result).StatusesWithLeasesAsync(labs, cancellationToken);
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
