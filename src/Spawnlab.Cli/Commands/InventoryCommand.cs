using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;

namespace Spawnlab.Cli.Commands;

internal static class InventoryCommand
{
    public static Command Create(CliContext cli)
    {
        var lab = new Argument<string?>("lab") { Description = "Only this lab", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--format") { Description = "ansible (a YAML inventory with host_vars) or json", DefaultValueFactory = _ => "ansible" };
        format.AcceptOnlyFromAmong("ansible", "json");
        var command = new Command("inventory", "Print every machine with its addresses, MACs and networks, grouped by lab and network") { lab, format };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var labs = cli.Controller(result).Store.LoadAll().Where(l => result.GetValue(lab) is not { } only || l.Lab == only).ToList();
            var machines = await cli.Controller(result).StatusesWithLeasesAsync(labs, cancellationToken);
            cli.Out.Write(result.GetValue(format) == "json" ? Inventory.ToJson(labs, machines) + "\n" : Inventory.ToAnsible(labs, machines));
            return 0;
        }));
        return command;
    }
}
