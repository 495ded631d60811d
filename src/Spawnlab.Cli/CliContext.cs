using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spectre.Console;

namespace Spawnlab.Cli;

/// <summary>
/// Where a run of the CLI writes and what it works on: the process's console and the real host, or, in the CLI's
/// tests, text writers and a fake host. Commands write through it only.
/// </summary>
internal sealed class CliContext
{
    public required TextWriter Out { get; init; }

    public required TextWriter Error { get; init; }

    /// <summary>Tables and markup on standard output.</summary>
    public required IAnsiConsole OutConsole { get; init; }

    /// <summary>Tables and markup on standard error.</summary>
    public required IAnsiConsole ErrorConsole { get; init; }

    public required IHost Host { get; init; }

    /// <summary>Makes the controller of a command: the real one by default, with fake machines in tests.</summary>
    public required Func<SpawnlabOptions, IProgressSink, LabController> Controllers { get; init; }

    /// <summary>Whether standard error is a terminal that live progress may redraw.</summary>
    public bool Interactive { get; init; }

    /// <summary>Where the inventory installs Spawnlab's Ansible collection so that Ansible finds it.</summary>
    public string AnsibleCollections { get; init; } = Ansible.AnsibleCollection.SystemCollections;

    /// <summary>Whether standard input is not a terminal (a shell needs one).</summary>
    public bool InputRedirected { get; init; }

    public LabController Controller(ParseResult result, IProgressSink? progress = null) =>
        Controllers(GlobalOptions.Options(result), progress ?? new ConsoleProgress(Error));

    /// <summary>The process's console and the real host.</summary>
    public static CliContext FromConsole()
    {
        var host = new LinuxHost();
        return new CliContext
        {
            Out = Console.Out,
            Error = Console.Error,
            OutConsole = Terminal.Create(Console.Out, Console.IsOutputRedirected),
            ErrorConsole = Terminal.Create(Console.Error, Console.IsErrorRedirected),
            Host = host,
            Controllers = (options, progress) => new LabController(host, options, progress),
            Interactive = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null
                && Environment.GetEnvironmentVariable("TERM") is not (null or "dumb"),
            InputRedirected = Console.IsInputRedirected,
            AnsibleCollections = Ansible.AnsibleCollection.WhereAnsibleLooks(
                Environment.GetEnvironmentVariable("ANSIBLE_COLLECTIONS_PATH") ?? Environment.GetEnvironmentVariable("ANSIBLE_COLLECTIONS_PATHS")),
        };
    }
}
