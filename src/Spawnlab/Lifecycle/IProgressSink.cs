namespace Spawnlab.Lifecycle;

/// <summary>How the library tells the user what it is doing; the CLI renders it, tests collect it.</summary>
public interface IProgressSink : IProgress<string>
{
    /// <summary>What a machine does now; <paramref name="phase"/> says whether that is where it ended.</summary>
    void Machine(string machine, string status, MachinePhase phase = MachinePhase.Working);
}

/// <summary>Where a machine is in an `up`: still at work, or ended one way or the other.</summary>
public enum MachinePhase
{
    Working,
    Ready,
    Failed,
    Skipped,
}

public sealed class NullProgress : IProgressSink
{
    public static readonly NullProgress Instance = new();

    public void Report(string value)
    {
    }

    public void Machine(string machine, string status, MachinePhase phase = MachinePhase.Working)
    {
    }
}
