using System.CommandLine;
using Spawnlab.Doctor;
using Spawnlab.Host;
using Spectre.Console;

namespace Spawnlab.Cli.Commands;

internal static class DoctorCommand
{
    public static Command Create(CliContext cli)
    {
        var fix = new Option<bool>("--fix") { Description = "Install missing packages and set the sysctls and firewall rules labs need, saying what changed" };
        var json = new Option<bool>("--json") { Description = "Print the findings as JSON" };
        var command = new Command("doctor", "Check what labs need from this host and say how to fix each gap") { fix, json };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var doctor = new HostDoctor(cli.Host, result.GetValue(GlobalOptions.StateDirectory)!);
            var findings = await doctor.ExamineAsync(cancellationToken);
            if (result.GetValue(fix))
            {
                foreach (var change in await doctor.FixAsync(findings, cancellationToken))
                    cli.Out.WriteLine($"changed: {change}");
                findings = await doctor.ExamineAsync(cancellationToken);
            }
            if (result.GetValue(json))
            {
                cli.Out.WriteLine(JsonNodes.Indented(JsonNodes.Array(findings.Select(f => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
                {
                    ["check"] = f.Check,
                    ["state"] = f.Severity switch { Severity.Ok => "ok", Severity.Note => "note", _ => "problem" },
                    ["detail"] = f.Detail,
                    ["fix"] = f.Advice,
                    ["fixable"] = f.Fixable,
                }))));
                return findings.Any(f => f.Severity == Severity.Problem) ? 1 : 0;
            }
            var table = new Table().Border(TableBorder.Simple).AddColumns("CHECK", "STATE", "DETAIL", "FIX");
            foreach (var f in findings)
            {
                var state = f.Severity switch { Severity.Ok => "[green]ok[/]", Severity.Note => "[yellow]note[/]", _ => "[red]problem[/]" };
                table.AddRow(Markup.Escape(f.Check), state, Markup.Escape(f.Detail), Markup.Escape(f.Advice ?? ""));
            }
            cli.OutConsole.Write(table);
            return findings.Any(f => f.Severity == Severity.Problem) ? 1 : 0;
        }));
        return command;
    }
}
