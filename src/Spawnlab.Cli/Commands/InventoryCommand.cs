using System.CommandLine;
using Spawnlab.Ansible;
using Spawnlab.Lifecycle;

namespace Spawnlab.Cli.Commands;

internal static class InventoryCommand
{
    public static Command Create(CliContext cli)
    {
        var lab = new Argument<string?>("lab") { Description = "Only this lab (a name or a lab file)", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--format") { Description = "ansible (a YAML inventory) or json (labs, networks and machines)", DefaultValueFactory = _ => "ansible" };
        format.AcceptOnlyFromAmong("ansible", "json");
        var connection = new Option<string>("--connection")
        {
            Description = "How Ansible reaches the machines: spawnlab (from the host, no SSH; run Ansible as root here) or ssh (as root, through a gateway machine where needed)",
            DefaultValueFactory = _ => "spawnlab",
        };
        connection.AcceptOnlyFromAmong("spawnlab", "ssh");
        var list = new Option<bool>("--list") { Description = "Answer as an Ansible dynamic inventory: every group and host as JSON" };
        var host = new Option<string?>("--host") { Description = "Answer as an Ansible dynamic inventory: the vars of this host as JSON" };
        var json = new Option<bool>("--json") { Description = "The same as --format json" };
        var export = new Option<string?>("--export") { Description = "Write hosts.yml and host_vars/HOST/mac.yml (SADM's layout) into this folder" };
        var command = new Command("inventory", "Print the labs as an Ansible inventory: a group per lab and network, the lab file's groups and vars, a connection to each machine")
        {
            lab, format, connection, list, host, export, json,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var controller = cli.Controller(result);
            var labs = LabArgument.Selected(controller.Store, result.GetValue(lab));
            if (result.GetValue(format) == "json" || result.GetValue(json))
            {
                cli.Out.Write(Inventory.ToJson(labs, await controller.StatusesWithLeasesAsync(labs, cancellationToken)) + "\n");
                return 0;
            }
            var via = result.GetValue(connection) == "ssh" ? InventoryConnection.Ssh : InventoryConnection.Spawnlab;
            var inventory = await controller.InventoryAsync(labs, via, cancellationToken);
            if (via == InventoryConnection.Spawnlab)
                EnsureCollection(cli);
            if (result.GetValue(export) is { } folder)
            {
                foreach (var file in inventory.Export(folder))
                    cli.Error.WriteLine($"wrote {file}");
                return 0;
            }
            cli.Out.Write(result.GetValue(host) is { } name ? inventory.HostJson(name) : result.GetValue(list) ? inventory.ToListJson() : inventory.ToYaml());
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Ansible finds the connection the inventory names only where it looks for collections: as root, Spawnlab's is
    /// kept up to date in the system-wide folder; otherwise the command that installs it is named.
    /// </summary>
    private static void EnsureCollection(CliContext cli)
    {
        var collections = cli.AnsibleCollections;
        if (AnsibleCollection.IsInstalled(collections))
            return;
        if (!cli.Host.IsRoot)
        {
            cli.Error.WriteLine($"spawnlab: Ansible needs Spawnlab's connection in {AnsibleCollection.PathIn(collections)}: run `sudo spawnlab inventory` once");
            return;
        }
        AnsibleCollection.Install(collections);
        cli.Error.WriteLine($"installed Spawnlab's Ansible connection ({Inventory.ConnectionPlugin}) in {AnsibleCollection.PathIn(collections)}");
    }
}
