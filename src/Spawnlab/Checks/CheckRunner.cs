using System.Text.RegularExpressions;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;

namespace Spawnlab.Checks;

/// <summary>Runs checks inside a machine, each retried until it passes or its timeout runs out.</summary>
public sealed partial class CheckRunner(IHostShell shell)
{
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(250);

    public async Task<CheckResult> RunAsync(string lab, string machine, string stage, MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var failure = "not run";
        var passed = await Poll.UntilAsync(async token => (failure = await ProbeAsync(session, check, token)).Length == 0, check.Timeout, Pause, cancellationToken);
        return passed
            ? new CheckResult(lab, machine, stage, check.Describe(), CheckOutcome.Passed, "", DateTimeOffset.UtcNow - started)
            : new CheckResult(lab, machine, stage, check.Describe(), CheckOutcome.Failed,
                $"{failure} (still after {check.Timeout.TotalSeconds:0.#} s)", DateTimeOffset.UtcNow - started);
    }

    /// <summary>One attempt: an empty string when the check holds, else what is wrong. One probe per kind of check.</summary>
    internal Task<string> ProbeAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken) => check.Kind switch
    {
        CheckKind.Service => ServiceAsync(session, check, cancellationToken),
        CheckKind.File => FileAsync(session, check, cancellationToken),
        CheckKind.Command => CommandAsync(session, check, cancellationToken),
        CheckKind.Http => HttpAsync(session, check, cancellationToken),
        CheckKind.Port => PortAsync(session, check, cancellationToken),
        CheckKind.Dns => DnsAsync(session, check, cancellationToken),
        CheckKind.Ping => PingAsync(session, check, cancellationToken),
        CheckKind.Console => ConsoleAsync(session, check, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(check), check.Kind, "unknown check kind"),
    };

    private async Task<string> ServiceAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var output = await InsideAsync(session, cancellationToken, "sh", "-c",
            "echo \"$(systemctl is-enabled \"$1\" 2>/dev/null) $(systemctl is-active \"$1\" 2>/dev/null)\"", "sh", check.Target);
        var words = output.StandardOutput.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var enabled = words.Length > 1 ? words[0] : "not-found";
        var active = words.Length > 1 ? words[1] : words.FirstOrDefault() ?? "unknown";
        var isEnabled = enabled is "enabled" or "enabled-runtime" or "static" or "alias" or "generated" or "indirect";
        return isEnabled && active == "active" ? "" : $"service {check.Target} is {active} and {enabled} (expected active and enabled)";
    }

    private async Task<string> FileAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var result = await InsideAsync(session, cancellationToken, "sh", "-c",
            "test -e \"$1\" || exit 10; if [ \"$2\" = yes ]; then test -s \"$1\" || exit 11; fi; if [ -n \"$3\" ]; then grep -qF -- \"$3\" \"$1\" || exit 12; fi",
            "sh", check.Target, check.NonEmpty ? "yes" : "no", check.Contains ?? "");
        return result.ExitCode switch
        {
            0 => "",
            10 => $"{check.Target} does not exist",
            11 => $"{check.Target} is empty",
            12 => $"{check.Target} does not contain '{check.Contains}'",
            _ => $"cannot read {check.Target}: {Tail(result.StandardError)}",
        };
    }

    private async Task<string> CommandAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var result = await InsideAsync(session, cancellationToken, "/bin/sh", "-c", check.Target);
        if (result.ExitCode != 0)
            return $"`{check.Target}` exited {result.ExitCode}{Suffix(Tail(result.StandardError + result.StandardOutput))}";
        if (check.Stdout is { } pattern && !Regex.IsMatch(result.StandardOutput, pattern, RegexOptions.Multiline, TimeSpan.FromSeconds(1)))
            return $"output of `{check.Target}` does not match /{pattern}/: '{Tail(result.StandardOutput)}'";
        return "";
    }

    private async Task<string> HttpAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var result = await InsideAsync(session, cancellationToken, "curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}", check.Target);
        if (result.ExitCode == 127 || result.StandardError.Contains("executable file not found", StringComparison.Ordinal))
            return "curl is not installed in the machine (add it to the image's packages)";
        if (result.ExitCode != 0)
            return $"no answer from {check.Target}: {Tail(result.StandardError)}";
        var body = result.StandardOutput;
        var cut = body.LastIndexOf('\n');
        var status = body[(cut + 1)..].Trim();
        body = cut < 0 ? "" : body[..cut];
        if (status != check.Status.ToString(System.Globalization.CultureInfo.InvariantCulture))
            return $"{check.Target} answered {status}, expected {check.Status}";
        if (check.Contains is { } text && !body.Contains(text, StringComparison.Ordinal))
            return $"{check.Target} answered {status} without '{text}' in its body";
        return "";
    }

    private async Task<string> PortAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var flags = check.Proto == "udp" ? "-Hlnu" : "-Hlnt";
        var result = await InsideAsync(session, cancellationToken, "ss", flags, $"sport = :{check.Target}");
        return result.ExitCode == 0 && result.StandardOutput.Trim().Length > 0 ? "" : $"nothing listens on {check.Proto} port {check.Target}";
    }

    private async Task<string> DnsAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        // ahostsv4 asks getaddrinfo, which ignores IPv4 on a machine whose only IPv4 address is loopback; hosts does not.
        var result = await InsideAsync(session, cancellationToken, "sh", "-c", "getent ahostsv4 \"$1\" || getent hosts \"$1\"", "sh", check.Target);
        var addresses = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]).Distinct().ToList();
        if (addresses.Count == 0)
            return $"{check.Target} does not resolve";
        if (check.Address is { } expected && !addresses.Contains(expected))
            return $"{check.Target} resolves to {string.Join(", ", addresses)}, expected {expected}";
        return "";
    }

    private async Task<string> PingAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var result = await InsideAsync(session, cancellationToken, "ping", "-c", "1", "-W", "1", check.Target);
        return result.ExitCode == 0 ? "" : $"{check.Target} does not answer ping{Suffix(Tail(result.StandardError))}";
    }

    /// <summary>The console since boot matches; then the check's text, if any, is typed on it (once: the check holds from then on).</summary>
    private static async Task<string> ConsoleAsync(MachineSession session, CheckDefinition check, CancellationToken cancellationToken)
    {
        var console = session.Console();
        if (!Regex.IsMatch(console, check.Target, RegexOptions.Multiline))
            return $"the console does not show /{check.Target}/; it ends with: '{OutputTail.Of(AnsiEscapes().Replace(console, ""), 2, 200)}'";
        if (check.Send is { } text)
            await session.TypeAsync(text, cancellationToken);
        return "";
    }

    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex AnsiEscapes();

    private Task<HostResult> InsideAsync(MachineSession session, CancellationToken cancellationToken, params string[] command) =>
        session.RunAsync(shell, new MachineCommand(command) { ThrowOnFailure = false }, cancellationToken);

    private static string Suffix(string text) => text.Length == 0 ? "" : $": {text}";

    private static string Tail(string text) => OutputTail.Of(text, 2, 200);
}
