using Spawnlab.Labs;

namespace Spawnlab.Tests.Labs;

public sealed class StageParserSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static string WithStages(string stages) => $"""
        lab: st
        images:
          base: {"{"} packages: [nginx] {"}"}
        machines:
          m:
            image: base
            stages:
        {stages}
        """;

    [Fact]
    public void Stages_with_files_scripts_and_every_check_kind_are_read()
    {
        _files.Write("x", "conf/site.conf");
        var lab = _files.Parse(WithStages("""
                  - name: web
                    files: { /etc/nginx/sites-enabled/site: ./conf/site.conf }
                    host: echo "$ROOT"
                    run: systemctl enable --now nginx
                    checks:
                      - service: nginx
                      - file: /etc/hostname
                        non_empty: true
                      - command: hostname
                        stdout: ^m$
                      - http: http://localhost/
                        status: 204
                        contains: ok
                        timeout: 5s
                      - port: 53
                        proto: udp
                      - dns: web.st
                        address: 10.0.0.10
                      - ping: gw
                        timeout: 500ms
            """));

        var stage = Assert.Single(lab.Machines["m"].Stages);
        Assert.Equal("web", stage.Name);
        Assert.Equal(Path.Combine(_files.Directory, "conf/site.conf"), stage.Files.Single().Source);
        Assert.Equal([CheckKind.Service, CheckKind.File, CheckKind.Command, CheckKind.Http, CheckKind.Port, CheckKind.Dns, CheckKind.Ping], stage.Checks.Select(c => c.Kind));
        Assert.Equal(204, stage.Checks[3].Status);
        Assert.Equal(TimeSpan.FromSeconds(5), stage.Checks[3].Timeout);
        Assert.Equal(CheckDefinition.DefaultTimeout, stage.Checks[0].Timeout);
        Assert.Equal("udp", stage.Checks[4].Proto);
        Assert.Equal("10.0.0.10", stage.Checks[5].Address);
        Assert.Equal(TimeSpan.FromMilliseconds(500), stage.Checks[6].Timeout);
        Assert.True(stage.Checks[1].NonEmpty);
    }

    [Theory]
    [InlineData("      - run: true", "missing key 'name'")]
    [InlineData("      - name: a\n      - name: a", "duplicate stage name")]
    [InlineData("      - name: A b", "stage name 'A b'")]
    [InlineData("      - name: a\n        script: x", "unknown key 'script'")]
    [InlineData("      - name: a\n        files: { /etc/x: ./missing }", "host path './missing' does not exist")]
    [InlineData("      - name: a\n        files: { /etc/x: /etc/passwd }", "is absolute; expected a path relative")]
    [InlineData("      - name: a\n        files: { /etc/x: ../../etc/passwd }", "leaves the lab file's folder")]
    [InlineData("      - name: a\n        files: { etc/x: ./lab.yaml }", "expected an absolute path inside the machine")]
    [InlineData("      - name: a\n        checks: [ { service: a, port: 80 } ]", "one check has one kind")]
    [InlineData("      - name: a\n        checks: [ { sevice: a } ]", "expected one of the check kinds")]
    [InlineData("      - name: a\n        checks: [ { port: 80, proto: sctp } ]", "expected tcp or udp")]
    [InlineData("      - name: a\n        checks: [ { port: 99999 } ]", "expected a port number")]
    [InlineData("      - name: a\n        checks: [ { http: 'ftp://x/' } ]", "expected an http or https URL")]
    [InlineData("      - name: a\n        checks: [ { http: 'http://x/', status: 99 } ]", "expected an HTTP status")]
    [InlineData("      - name: a\n        checks: [ { command: 'true', stdout: '(' } ]", "is not a regular expression")]
    [InlineData("      - name: a\n        checks: [ { ping: gw, timeout: soon } ]", "expected a duration")]
    [InlineData("      - name: a\n        checks: [ { dns: gw, address: nowhere } ]", "is not an IPv4 address")]
    [InlineData("      - name: a\n        checks: [ { service: a, contains: b } ]", "unknown key 'contains'")]
    [InlineData("      - name: a\n        checks: { service: a }", "expected a list of checks")]
    public void Bad_stages_and_checks_are_rejected(string stages, string message)
    {
        _files.Write("lab: placeholder", "lab.yaml");
        var errors = _files.Errors(WithStages(stages));
        Assert.Contains(errors, e => e.Message.Contains(message, StringComparison.Ordinal));
    }
}
