using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;
using Spawnlab.Tests.Fakes;

namespace Spawnlab.Tests.Lifecycle;

/// <summary>
/// A lab run by the real lifecycle on a fake host and fake machines, in a folder of its own: state, pool and lab file.
/// Stage scripts run in the machine's root folder (see <see cref="FakeRuntime"/>).
/// </summary>
internal sealed class FakeLab : IDisposable
{
    public const string Text = """
        lab: unit
        images:
          base: { bootstrap: debootstrap, suite: bookworm }
        networks:
          lan: { subnet: 10.98.0.0/24, host: 10.98.0.1 }
        machines:
          db:
            image: base
            networks: { lan: { address: 10.98.0.10/24 } }
            stages:
              - name: install
                run: echo install >> stages
              - name: schema
                run: echo schema >> stages
                checks:
                  - command: grep -q schema stages
              - name: data
                run: echo data >> stages
          web:
            image: base
            networks: { lan: { address: 10.98.0.20/24 } }
            stages:
              - name: app
                after: [ db/schema ]
                run: echo app >> stages
              - name: site
                run: echo site >> stages
        """;

    public FakeLab()
    {
        Directory.CreateDirectory(Folder);
        Host = FakeLabShell.Host();
        Runtime = new FakeRuntime(Host);
        Controller = new LabController(Host, new SpawnlabOptions(Path.Combine(Folder, "state"), DriverChoice.Dir), Progress, Runtime);
    }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "spawnlab-lifecycle-" + Guid.NewGuid().ToString("N")[..8]);

    public FakeHost Host { get; }

    public FakeRuntime Runtime { get; }

    public RecordingProgress Progress { get; } = new();

    public LabController Controller { get; }

    public string StateFolder => Path.Combine(Folder, "state");

    public string PoolFolder => Path.Combine(StateFolder, "pool");

    public LabDefinition Lab(string text = Text)
    {
        var path = Path.Combine(Folder, "lab.yaml");
        File.WriteAllText(path, text);
        return LabParser.ParseFile(path);
    }

    public Task<UpResult> UpAsync(LabDefinition lab, UpOptions? options = null) =>
        Controller.UpAsync(lab, options ?? new UpOptions(), CancellationToken.None);

    /// <summary>What the machine's stages wrote into its root, in order.</summary>
    public string[] Written(string machine)
    {
        var file = Path.Combine(PoolFolder, "labs", "unit", "machines", machine, "stages");
        return File.Exists(file) ? File.ReadAllLines(file) : [];
    }

    /// <summary>The stages whose scripts ran, as "machine/stage", in the order they ran.</summary>
    public List<string> Ran() =>
        [.. Host.Shell.Commands.Where(c => c.Arguments.Contains(FakeRuntime.Program) && c.Arguments[^1].StartsWith("echo ", StringComparison.Ordinal))
            .Select(c => $"{Path.GetFileName(c.Arguments[c.Arguments.IndexOf(FakeRuntime.Program) + 1])}/{c.Arguments[^1].Split(' ')[1]}")];

    public void Dispose()
    {
        if (Directory.Exists(Folder))
            Directory.Delete(Folder, recursive: true);
    }
}

internal sealed class RecordingProgress : IProgressSink
{
    public List<string> Lines { get; } = [];

    public List<(string Machine, Spawnlab.Machines.MachineStep Step)> Steps { get; } = [];

    public void Report(string value)
    {
        lock (Lines)
            Lines.Add(value);
    }

    public void Machine(string machine, Spawnlab.Machines.MachineStep step)
    {
        lock (Lines)
        {
            Lines.Add($"{machine}: {step}");
            Steps.Add((machine, step));
        }
    }
}
