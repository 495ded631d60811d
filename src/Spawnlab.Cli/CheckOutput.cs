using System.CommandLine;
using Spawnlab.Checks;
using Spectre.Console;

namespace Spawnlab.Cli;

/// <summary>Check results on the terminal as a table, and in the report files asked for.</summary>
internal static class CheckOutput
{
    public static readonly Option<FileInfo?> Report = new("--report") { Description = "Write the check results as JSON to this file" };
    public static readonly Option<FileInfo?> JUnit = new("--junit") { Description = "Write the check results as JUnit XML to this file" };

    public static void Write(CliContext cli, ParseResult parse, IReadOnlyList<CheckResult> results)
    {
        if (parse.GetValue(Report) is { } report)
            File.WriteAllText(report.FullName, CheckReports.ToJson(results));
        if (parse.GetValue(JUnit) is { } junit)
        {
            using var writer = System.Xml.XmlWriter.Create(junit.FullName, new System.Xml.XmlWriterSettings { Indent = true, Encoding = new System.Text.UTF8Encoding(false) });
            CheckReports.ToJUnit(results, DateTimeOffset.UtcNow).Save(writer);
        }
        if (results.Count == 0)
            return;
        var table = new Table().Border(TableBorder.Simple).AddColumns("MACHINE", "STAGE", "CHECK", "RESULT", "TIME");
        foreach (var r in results)
        {
            var outcome = r.Outcome switch
            {
                CheckOutcome.Passed => "[green]passed[/]",
                CheckOutcome.Failed => $"[red]failed[/]: {Markup.Escape(r.Message)}",
                _ => $"[yellow]skipped[/]: {Markup.Escape(r.Message)}",
            };
            table.AddRow(Markup.Escape(r.Machine), Markup.Escape(r.Stage), Markup.Escape(r.Name), outcome, $"{r.Duration.TotalSeconds:0.0}s");
        }
        cli.ErrorConsole.Write(table);
        cli.Error.WriteLine(
            $"{results.Count(r => r.Outcome == CheckOutcome.Passed)} passed, {results.Count(r => r.Outcome == CheckOutcome.Failed)} failed, {results.Count(r => r.Outcome == CheckOutcome.Skipped)} skipped");
    }
}
