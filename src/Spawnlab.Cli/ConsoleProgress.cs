using Spawnlab.Lifecycle;
using Spawnlab.Machines;

namespace Spawnlab.Cli;

/// <summary>Plain, timestamped progress lines on stderr: readable on a terminal and in a CI log alike.</summary>
internal sealed class ConsoleProgress(TextWriter error) : IProgressSink
{
    private readonly Lock _lock = new();

    public void Report(string value) => Write(value);

    public void Machine(string machine, MachineStep step) => Write($"{machine}: {step}");

    private void Write(string line)
    {
        lock (_lock)
            error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
    }
}
