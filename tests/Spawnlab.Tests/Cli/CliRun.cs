using Spawnlab.Cli;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;
using Spawnlab.Tests.Lifecycle;

namespace Spawnlab.Tests.Cli;

/// <summary>The CLI run in-process, as `spawnlab ARGS` would run, on the fake host and machines of a <see cref="FakeLab"/>.</summary>
internal sealed class CliRun : IDisposable
{
    public FakeLab Lab { get; } = new();

    public string LabFile => Path.Combine(Lab.Folder, "lab.yaml");

    /// <summary>Where the inventory installs Spawnlab's Ansible collection in these runs.</summary>
    public string Collections => Path.Combine(Lab.Folder, "collections");

    public CliRun() => Write(FakeLab.Text);

    public string Write(string text, string name = "lab.yaml")
    {
        var path = Path.Combine(Lab.Folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Runs the CLI with these arguments (and this lab's state folder); returns its exit code and what it wrote.</summary>
    public async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await SpawnlabCli.RunAsync(["--state-dir", Lab.StateFolder, .. args], Context(output, error));
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>What the CLI suggests after <paramref name="line"/> (the words after `spawnlab`), as a shell's completion asks it.</summary>
    public async Task<IReadOnlyList<string>> SuggestAsync(string line)
    {
        var output = new StringWriter();
        var full = $"--state-dir {Lab.StateFolder} {line}";
        await SpawnlabCli.RunAsync([$"[suggest:{full.Length}]", full], Context(output, new StringWriter()));
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The CLI's context on this lab's fake host and machines, writing to these writers.</summary>
    private CliContext Context(StringWriter output, StringWriter error) => new()
    {
        Out = output,
        Error = error,
        OutConsole = Terminal.Create(output, redirected: true),
        ErrorConsole = Terminal.Create(error, redirected: true),
        Host = Lab.Host,
        Controllers = (options, progress) => new LabController(Lab.Host, options with { Driver = DriverChoice.Dir }, progress, Lab.Runtime),
        AnsibleCollections = Collections,
    };

    public void Dispose() => Lab.Dispose();
}
