using System.Xml.Linq;
using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;

namespace Spawnlab.HostTests;

/// <summary>Every check kind against a real machine that serves HTTP on port 80 and DNS (UDP 53) for a name of its own.</summary>
[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class CheckSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly TimeSpan Short = TimeSpan.FromSeconds(1);

    public static TheoryData<CheckDefinition, string?> Checks() => new()
    {
        { new CheckDefinition(CheckKind.Service, "nginx", Short), null },
        { new CheckDefinition(CheckKind.Service, "dnsmasq", Short), "service dnsmasq is inactive and disabled (expected active and enabled)" },
        { new CheckDefinition(CheckKind.File, "/etc/motd.lab", Short) { Contains = "welcome" }, null },
        { new CheckDefinition(CheckKind.File, "/etc/motd.lab", Short) { Contains = "goodbye" }, "/etc/motd.lab does not contain 'goodbye'" },
        { new CheckDefinition(CheckKind.File, "/etc/empty", Short), null },
        { new CheckDefinition(CheckKind.File, "/etc/empty", Short) { NonEmpty = true }, "/etc/empty is empty" },
        { new CheckDefinition(CheckKind.File, "/nowhere", Short), "/nowhere does not exist" },
        { new CheckDefinition(CheckKind.Command, "echo ready; true", Short) { Stdout = "^ready$" }, null },
        { new CheckDefinition(CheckKind.Command, "echo broken >&2; exit 4", Short), "`echo broken >&2; exit 4` exited 4: broken" },
        { new CheckDefinition(CheckKind.Command, "echo nope", Short) { Stdout = "^ready$" }, "output of `echo nope` does not match /^ready$/: 'nope'" },
        { new CheckDefinition(CheckKind.Http, "http://localhost/", Short) { Contains = "lab page" }, null },
        { new CheckDefinition(CheckKind.Http, "http://localhost/missing", Short), "http://localhost/missing answered 404, expected 200" },
        { new CheckDefinition(CheckKind.Http, "http://localhost/", Short) { Contains = "absent text" }, "http://localhost/ answered 200 without 'absent text' in its body" },
        { new CheckDefinition(CheckKind.Http, "http://localhost:81/", Short), "no answer from http://localhost:81/" },
        { new CheckDefinition(CheckKind.Port, "80", Short), null },
        { new CheckDefinition(CheckKind.Port, "81", Short), "nothing listens on tcp port 81" },
        { new CheckDefinition(CheckKind.Port, "5353", Short) { Proto = "udp" }, null },
        { new CheckDefinition(CheckKind.Port, "80", Short) { Proto = "udp" }, "nothing listens on udp port 80" },
        { new CheckDefinition(CheckKind.Dns, "files.lab.test", Short) { Address = "192.0.2.44" }, null },
        { new CheckDefinition(CheckKind.Dns, "files.lab.test", Short) { Address = "192.0.2.45" }, "files.lab.test resolves to 192.0.2.44, expected 192.0.2.45" },
        { new CheckDefinition(CheckKind.Dns, "nowhere.invalid", Short), "nowhere.invalid does not resolve" },
        { new CheckDefinition(CheckKind.Ping, "127.0.0.1", Short), null },
        { new CheckDefinition(CheckKind.Ping, "192.0.2.99", Short), "192.0.2.99 does not answer ping" },
    };

    private const string Lab = """
        machines:
          m:
            image: base
            stages:
              - name: serve
                run: |
                  echo welcome > /etc/motd.lab
                  : > /etc/empty
                  echo '<p>lab page</p>' > /var/www/html/index.html
                  systemctl enable --now nginx
                  # Debian starts the packaged dnsmasq on boot; this machine runs its own instead.
                  systemctl disable --now dnsmasq
                  # A resolver of its own for the dns check: dnsmasq on port 53 answers files.lab.test; a second one holds 5353.
                  echo 'nameserver 127.0.0.1' > /etc/resolv.conf
                  dnsmasq --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --address=/files.lab.test/192.0.2.44 --pid-file=/run/lab-dns.pid
                  dnsmasq --port=5353 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --pid-file=/run/lab-dns2.pid
                checks:
                  - service: nginx
                    timeout: 5s
                  - port: 80
                    timeout: 5s
              - name: later
                run: echo later > /later.txt
                checks:
                  - file: /later.txt
                    contains: later
        """;

    [HostFact]
    public async Task Every_check_kind_passes_when_it_holds_and_fails_with_a_clear_message_when_it_does_not()
    {
        var name = TestLab.Name("chk");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            var state = await controller.UpCleanlyAsync(_files.Write($"lab: {name}\n{TestLab.Image}\n{Lab}"));
            var (lab, machine) = controller.FindMachine($"{name}/m");
            var session = controller.SessionOf(lab, machine);
            var runner = new CheckRunner(host.Shell);

            var failures = new List<string>();
            foreach (var row in Checks())
            {
                var check = (CheckDefinition)row[0];
                var expected = (string?)row[1];
                var result = await runner.RunAsync(name, "m", "serve", session, check, CancellationToken.None);
                if (expected is null && result.Outcome != CheckOutcome.Passed)
                    failures.Add($"{check.Describe()} should pass: {result.Message}");
                if (expected is not null && (result.Outcome != CheckOutcome.Failed || !result.Message.StartsWith(expected, StringComparison.Ordinal)))
                    failures.Add($"{check.Describe()} should fail with '{expected}', got {result.Outcome}: '{result.Message}'");
            }
            Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }

    [HostFact]
    public async Task The_JUnit_report_of_a_test_run_parses_and_counts_its_passes_failures_and_skips()
    {
        var name = TestLab.Name("jun");
        var controller = host.Controller(DriverChoice.Btrfs);
        try
        {
            await controller.UpCleanlyAsync(_files.Write($"lab: {name}\n{TestLab.Image}\n{Lab}"));
            await controller.RestoreAsync($"{name}/m", "serve", CancellationToken.None);
            await controller.InsideAsync(name, "m", "systemctl", "stop", "nginx");

            var results = await controller.TestAsync($"{name}/m", CancellationToken.None);

            // serve: the service check fails, the port check fails (nginx stopped); later: pending, so its check is skipped.
            Assert.Equal([CheckOutcome.Failed, CheckOutcome.Failed, CheckOutcome.Skipped], results.Select(r => r.Outcome));
            var path = Path.Combine(_files.Directory, "junit.xml");
            CheckReports.ToJUnit(results, DateTimeOffset.UtcNow).Save(path);
            var junit = XDocument.Load(path).Root!;
            Assert.Equal("3", junit.Attribute("tests")!.Value);
            Assert.Equal("2", junit.Attribute("failures")!.Value);
            Assert.Equal("1", junit.Attribute("skipped")!.Value);
            var cases = junit.Descendants("testcase").ToList();
            Assert.Equal(3, cases.Count);
            Assert.Equal(2, cases.Count(c => c.Element("failure") is not null));
            Assert.Equal(1, cases.Count(c => c.Element("skipped") is not null));
            Assert.Equal(["m.serve", "m.serve", "m.later"], cases.Select(c => c.Attribute("classname")!.Value));
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }
}
