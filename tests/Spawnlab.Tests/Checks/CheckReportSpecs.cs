using System.Text.Json;
using System.Xml.Linq;
using Spawnlab.Checks;

namespace Spawnlab.Tests.Checks;

public sealed class CheckReportSpecs
{
    private static readonly IReadOnlyList<CheckResult> Results =
    [
        new("prolo", "gw", "dns", "service dnsmasq is enabled and active", CheckOutcome.Passed, "", TimeSpan.FromMilliseconds(120)),
        new("prolo", "gw", "dns", "dns web.prolo resolves to 10.0.0.10", CheckOutcome.Failed, "web.prolo does not resolve", TimeSpan.FromSeconds(30)),
        new("prolo", "web", "nginx", "port 80/tcp is open", CheckOutcome.Skipped, "stage nginx is pending", TimeSpan.Zero),
    ];

    [Fact]
    public void JUnit_has_one_suite_per_machine_and_one_case_per_check_with_matching_counts()
    {
        var root = XDocument.Parse(CheckReports.ToJUnit(Results, DateTimeOffset.UnixEpoch).ToString()).Root!;

        Assert.Equal(("3", "1", "1"), (root.Attribute("tests")!.Value, root.Attribute("failures")!.Value, root.Attribute("skipped")!.Value));
        var suites = root.Elements("testsuite").ToList();
        Assert.Equal(["prolo/gw", "prolo/web"], suites.Select(s => s.Attribute("name")!.Value));
        Assert.Equal("2", suites[0].Attribute("tests")!.Value);
        var failure = suites[0].Elements("testcase").Single(c => c.Element("failure") is not null);
        Assert.Equal("gw.dns", failure.Attribute("classname")!.Value);
        Assert.Equal("web.prolo does not resolve", failure.Element("failure")!.Attribute("message")!.Value);
        Assert.NotNull(suites[1].Element("testcase")!.Element("skipped"));
    }

    [Fact]
    public void JSON_carries_the_counts_and_every_result()
    {
        using var json = JsonDocument.Parse(CheckReports.ToJson(Results));
        var root = json.RootElement;
        Assert.Equal((3, 1, 1, 1), (root.GetProperty("tests").GetInt32(), root.GetProperty("passed").GetInt32(), root.GetProperty("failed").GetInt32(), root.GetProperty("skipped").GetInt32()));
        Assert.Equal("failed", root.GetProperty("results")[1].GetProperty("outcome").GetString());
    }
}
