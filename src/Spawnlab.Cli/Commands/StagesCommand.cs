using System.CommandLine;
using Spawnlab.Stages;
using Spawnlab.State;
using Spectre.Console;

namespace Spawnlab.Cli.Commands;

internal static class StagesCommand
{
    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string>("machine") { Description = "MACHINE or LAB/MACHINE" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("stages", "Show a machine's stages: key, state, snapshot time, duration") { machine, json };
        command.SetAction(result => CommandRunner.RunAsync(cli, () =>
        {
            var (lab, found) = cli.Controller(result).FindMachine(result.GetValue(machine)!);
            if (result.GetValue(json))
            {
                cli.Out.WriteLine(JsonNodes.Indented(new System.Text.Json.Nodes.JsonObject
                {
                    ["lab"] = lab.Lab,
                    ["machine"] = found.Name,
                    ["stages"] = JsonNodes.Array(found.Stages.Select(s => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
                    {
                        ["name"] = s.Name,
                        ["key"] = s.Key,
                        ["state"] = s.Status.ToString().ToLowerInvariant(),
                        ["current"] = found.RootAt == s.Key,
                        ["snapshotAt"] = s.SnapshotAt,
                        ["seconds"] = s.Duration?.TotalSeconds,
                    })),
                }));
                return Task.FromResult(0);
            }
            var table = new Table().Border(TableBorder.Simple).AddColumns("#", "STAGE", "KEY", "STATE", "SNAPSHOT", "DURATION");
            var index = 0;
            foreach (var stage in found.Stages)
            {
                index++;
                var state = stage.Status switch
                {
                    StageStatus.Ran => "[green]ran[/]",
                    StageStatus.Cached => "[blue]cached[/]",
                    StageStatus.Failed => "[red]failed[/]",
                    _ => "[grey]pending[/]",
                };
                var current = found.RootAt == stage.Key ? " [bold](current)[/]" : "";
                table.AddRow(
                    index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Markup.Escape(stage.Name),
                    StageKeys.Short(stage.Key),
                    state + current,
                    stage.SnapshotAt?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? "-",
                    stage.Duration is { } d ? $"{d.TotalSeconds:0.0}s" : "-");
            }
            cli.OutConsole.Write(table);
            if (found.Stages.Count == 0)
                cli.Error.WriteLine($"{lab.Lab}/{found.Name} has no stages");
            return Task.FromResult(0);
        }));
        return command;
    }
}
