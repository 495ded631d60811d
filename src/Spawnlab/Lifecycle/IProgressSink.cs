using Spawnlab.Machines;

namespace Spawnlab.Lifecycle;

/// <summary>How the library tells the user what it is doing; the CLI renders it, tests collect it.</summary>
public interface IProgressSink : IProgress<string>
{
    /// <summary>What a machine does now; the step's phase says whether that is where it ended.</summary>
    void Machine(string machine, MachineStep step);

    /// <summary>A part of `up` that is the lab's, not a machine's, ended after <paramref name="took"/>.</summary>
    void Phase(string phase, TimeSpan took)
    {
    }
}

public sealed class NullProgress : IProgressSink
{
    public static readonly NullProgress Instance = new();

    public void Report(string value)
    {
    }

    public void Machine(string machine, MachineStep step)
    {
    }
}
