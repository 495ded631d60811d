using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Spawnlab.Checks;

/// <summary>Check results written as a test suite: JSON, and JUnit XML with one test case per check.</summary>
public static class CheckReports
{
    public static string ToJson(IReadOnlyList<CheckResult> results) => JsonNodes.Indented(new JsonObject
    {
        ["tests"] = results.Count,
        ["passed"] = results.Count(r => r.Outcome == CheckOutcome.Passed),
        ["failed"] = results.Count(r => r.Outcome == CheckOutcome.Failed),
        ["skipped"] = results.Count(r => r.Outcome == CheckOutcome.Skipped),
        ["results"] = JsonNodes.Array(results.Select(r => (JsonNode)new JsonObject
        {
            ["lab"] = r.Lab,
            ["machine"] = r.Machine,
            ["stage"] = r.Stage,
            ["name"] = r.Name,
            ["outcome"] = JsonNamingPolicy.CamelCase.ConvertName(r.Outcome.ToString()),
            ["message"] = r.Message,
            ["seconds"] = Math.Round(r.Duration.TotalSeconds, 3),
        })),
    });

    /// <summary>One test suite per machine; a test case's class name is MACHINE.STAGE.</summary>
    public static XDocument ToJUnit(IReadOnlyList<CheckResult> results, DateTimeOffset timestamp)
    {
        static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        var suites = results.GroupBy(r => (r.Lab, r.Machine)).Select(group => new XElement("testsuite",
            new XAttribute("name", $"{group.Key.Lab}/{group.Key.Machine}"),
            new XAttribute("tests", group.Count()),
            new XAttribute("failures", group.Count(r => r.Outcome == CheckOutcome.Failed)),
            new XAttribute("errors", 0),
            new XAttribute("skipped", group.Count(r => r.Outcome == CheckOutcome.Skipped)),
            new XAttribute("time", Seconds(group.Aggregate(TimeSpan.Zero, (t, r) => t + r.Duration))),
            new XAttribute("timestamp", timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            group.Select(r => new XElement("testcase",
                new XAttribute("classname", $"{r.Machine}.{r.Stage}"),
                new XAttribute("name", r.Name),
                new XAttribute("time", Seconds(r.Duration)),
                r.Outcome switch
                {
                    CheckOutcome.Failed => new XElement("failure", new XAttribute("message", r.Message), r.Message),
                    CheckOutcome.Skipped => new XElement("skipped", new XAttribute("message", r.Message)),
                    _ => null,
                }))));
        return new XDocument(new XElement("testsuites",
            new XAttribute("name", "spawnlab"),
            new XAttribute("tests", results.Count),
            new XAttribute("failures", results.Count(r => r.Outcome == CheckOutcome.Failed)),
            new XAttribute("errors", 0),
            new XAttribute("skipped", results.Count(r => r.Outcome == CheckOutcome.Skipped)),
            suites));
    }
}
