using Spawnlab.Lifecycle;

namespace Spawnlab.Cli;

/// <summary>Plain, timestamped progress lines on stderr: readable on a terminal and in a CI log alike.</summary>
internal sealed class ConsoleProgress(TextWriter error) : IProgressSink
{
    private readonly Lock _lock = new();

    public void Report(string value) => Write(value);

    public void Machine(string machine, string status, MachinePhase phase = MachinePhase.Working) => Write($"{machine}: {status}");

    private void Write(string line)
    {
        lock (_lock)
            error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
    }
}
