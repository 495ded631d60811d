using Spawnlab.Checks;
using Spawnlab.Labs;

namespace Spawnlab.Tests.Checks;

/// <summary>Each kind of check reads what the machine answered, without a machine: the answer is a fake shell's.</summary>
public sealed class CheckProbeSpecs
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    private static readonly Spawnlab.Machines.NspawnSession Session = new("m", 42, "/nonexistent/boot.log");

    private static Task<string> ProbeAsync(CheckDefinition check, string output, int exitCode = 0) =>
        new CheckRunner(new Fakes.FakeShell().Answer("nsenter", output, exitCode)).ProbeAsync(Session, check, CancellationToken.None);

    [Theory]
    [InlineData("enabled active\n", "")]
    [InlineData("static active\n", "")]
    [InlineData("disabled inactive\n", "service nginx is inactive and disabled (expected active and enabled)")]
    [InlineData("inactive\n", "service nginx is inactive and not-found (expected active and enabled)")]
    public async Task A_service_holds_when_it_is_enabled_and_active(string answer, string failure) =>
        Assert.Equal(failure, await ProbeAsync(new CheckDefinition(CheckKind.Service, "nginx", Short), answer));

    [Theory]
    [InlineData("<p>welcome</p>\n200", 200, "")]
    [InlineData("<p>gone</p>\n404", 200, "http://web/ answered 404, expected 200")]
    [InlineData("<p>other</p>\n200", 200, "http://web/ answered 200 without 'welcome' in its body")]
    public async Task An_http_check_reads_the_status_curl_appends_and_the_body_before_it(string answer, int status, string failure) =>
        Assert.Equal(failure, await ProbeAsync(new CheckDefinition(CheckKind.Http, "http://web/", Short) { Status = status, Contains = "welcome" }, answer));

    [Fact]
    public async Task A_dns_check_names_what_the_name_resolves_to_when_it_is_not_the_address_expected()
    {
        var check = new CheckDefinition(CheckKind.Dns, "web.lab", Short) { Address = "10.0.0.10" };

        Assert.Equal("", await ProbeAsync(check, "10.0.0.10 STREAM web.lab\n10.0.0.10 DGRAM\n"));
        Assert.Equal("web.lab resolves to 10.0.0.11, expected 10.0.0.10", await ProbeAsync(check, "10.0.0.11 STREAM web.lab\n"));
        Assert.Equal("web.lab does not resolve", await ProbeAsync(check, "", exitCode: 2));
    }

    [Theory]
    [InlineData(10, "/etc/x does not exist")]
    [InlineData(11, "/etc/x is empty")]
    [InlineData(12, "/etc/x does not contain 'needle'")]
    public async Task A_file_check_says_which_of_its_conditions_failed(int exitCode, string failure) =>
        Assert.Equal(failure, await ProbeAsync(new CheckDefinition(CheckKind.File, "/etc/x", Short) { Contains = "needle" }, "", exitCode));

    [Fact]
    public async Task A_check_that_never_holds_fails_at_its_timeout_with_the_last_reason()
    {
        var runner = new CheckRunner(new Fakes.FakeShell().Answer("nsenter", "", exitCode: 1));

        var result = await runner.RunAsync("lab", "m", "s", Session, new CheckDefinition(CheckKind.Ping, "gw", Short), CancellationToken.None);

        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Equal("gw does not answer ping (still after 0.3 s)", result.Message);
    }
}
