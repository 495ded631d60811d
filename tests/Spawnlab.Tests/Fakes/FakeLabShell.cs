using System.Text.RegularExpressions;
using Spawnlab.Host;

namespace Spawnlab.Tests.Fakes;

/// <summary>
/// What the programs Spawnlab runs do, for lifecycle unit tests, on a <see cref="FakeHost"/>: ip and nft change the
/// fake host's links, namespaces and tables; debootstrap makes a minimal root; cp and rm really copy and delete inside
/// the test's folder; a machine's scripts (<see cref="FakeRuntime"/>) really run, in its root. Anything else succeeds
/// and does nothing.
/// </summary>
internal static partial class FakeLabShell
{
    public static FakeHost Host()
    {
        var host = new FakeHost();
        host.Shell.Handler = command => Answer(host, command);
        return host;
    }

    public static HashSet<string> Tables(FakeHost host) => s_tables.GetOrCreateValue(host);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FakeHost, HashSet<string>> s_tables = [];

    private static readonly HostResult Ok = new(0, "", "");

    private static HostResult? Answer(FakeHost host, HostCommand command)
    {
        var arguments = command.Arguments;
        lock (host)
        {
            return command.Program switch
            {
                "ip" => Ip(host, [.. arguments], command.StandardInput ?? ""),
                "nft" => Nft(Tables(host), [.. arguments], command.StandardInput ?? ""),
                "debootstrap" => Debootstrap(arguments[^2]),
                // An image's commands run logged to its log (HostCommand.LoggedTo): sh -c REDIRECT LOG debootstrap ….
                "sh" when arguments.Contains("debootstrap") => Debootstrap(arguments[^2]),
                "cp" or "rm" => Real(command),
                "sh" when arguments.Contains(FakeRuntime.Program) => InMachine(command),
                FakeRuntime.Program => InMachine(command),
                "findmnt" => new HostResult(1, "", ""),
                _ => Ok,
            };
        }
    }

    private static HostResult Ip(FakeHost host, string[] a, string input)
    {
        switch (a)
        {
            case ["link", "add", var name, "address", var mac, "type", "bridge"]:
                host.Links[name] = mac;
                return Ok;
            case ["link", "show", "dev", var name]:
                return host.Links.ContainsKey(name) ? Ok : new HostResult(1, "", $"Device \"{name}\" does not exist.");
            case ["link", "del", var name]:
                return host.Links.Remove(name) ? Ok : new HostResult(1, "", "Cannot find device");
            case ["netns", "del", var name]:
                host.Namespaces.Remove(name);
                foreach (var veth in host.Links.Where(l => l.Value == "veth:" + name).Select(l => l.Key).ToList())
                    host.Links.Remove(veth);
                return Ok;
            case ["-j", "-4", "route", "show", "default"]:
                return new HostResult(0, """[{"dst":"default","dev":"eth0"}]""", "");
            case ["-j", "-4", "addr", "show"]:
            case ["-n", _, "-j", "-4", "addr", "show", "dev", _]:
                return new HostResult(0, "[]", "");
            case ["-batch", "-"] or ["-force", "-batch", "-"]:
                foreach (var line in input.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    switch (line.Split(' '))
                    {
                        case ["netns", "add" or "attach", var ns, ..]:
                            host.Namespaces.Add(ns);
                            break;
                        case ["link", "add", var veth, "type", "veth", .., "netns", var ns]:
                            host.Links[veth] = "veth:" + ns;
                            break;
                        case ["link", "del", var name]:
                            host.Links.Remove(name);
                            break;
                    }
                }
                return Ok;
            default:
                return Ok;
        }
    }

    private static HostResult Nft(HashSet<string> tables, string[] a, string input)
    {
        switch (a)
        {
            case ["list", "table", "ip", var table]:
                return tables.Contains(table) ? Ok : new HostResult(1, "", "No such file or directory");
            case ["delete", "table", "ip", var table]:
                tables.Remove(table);
                return Ok;
            case ["-j", "list", "ruleset"]:
                return new HostResult(0, """{"nftables":[]}""", "");
            case ["-f", "-"]:
                foreach (Match match in NftTable().Matches(input))
                    tables.Add(match.Groups[1].Value);
                return Ok;
            default:
                return Ok;
        }
    }

    [GeneratedRegex(@"^table ip (\S+) \{", RegexOptions.Multiline)]
    private static partial Regex NftTable();

    private static HostResult Debootstrap(string target)
    {
        Directory.CreateDirectory(Path.Combine(target, "etc"));
        File.WriteAllText(Path.Combine(target, "etc/os-release"), "ID=debian\n");
        File.WriteAllText(Path.Combine(target, "etc/hostname"), "debootstrapped\n");
        Directory.CreateDirectory(Path.Combine(target, "usr/lib/systemd"));
        File.WriteAllText(Path.Combine(target, "usr/lib/systemd/systemd"), "");
        return Ok;
    }

    private static HostResult Real(HostCommand command) =>
        new CliWrapShell().RunAsync(command.WithoutThrowing(), CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// A command entered into a fake machine: `fake-machine ROOT /bin/sh ...`, maybe wrapped to log its output
    /// (`sh -c ... LOG fake-machine ROOT ...`). Only shell scripts run, with the root as working directory and $ROOT.
    /// </summary>
    private static HostResult InMachine(HostCommand command)
    {
        var arguments = command.Arguments.ToList();
        var at = command.Program == FakeRuntime.Program ? -1 : arguments.IndexOf(FakeRuntime.Program);
        var log = at > 0 ? arguments[at - 1] : null;
        var root = arguments[at + 1];
        var inner = arguments[(at + 2)..];
        if (inner is not ["/bin/sh", ..])
            return new HostResult(127, "", $"a fake machine runs only /bin/sh, not {inner[0]}");
        var result = new CliWrapShell().RunAsync(
            HostCommand.Of(inner[0], inner[1..]).WithWorkingDirectory(root).WithEnvironment("ROOT", root).WithStandardInput(command.StandardInput ?? "").WithoutThrowing(),
            CancellationToken.None).GetAwaiter().GetResult();
        if (log is not null)
            File.AppendAllText(log, result.StandardOutput + result.StandardError);
        return result;
    }
}
