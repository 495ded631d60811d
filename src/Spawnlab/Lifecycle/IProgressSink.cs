namespace Spawnlab.Lifecycle;

/// <summary>How the library tells the user what it is doing; the CLI renders it, tests collect it.</summary>
public interface IProgressSink : IProgress<string>
{
    void Machine(string machine, string status);
}

public sealed class NullProgress : IProgressSink
{
    public static readonly NullProgress Instance = new();

    public void Report(string value)
    {
    }

    public void Machine(string machine, string status)
    {
    }
}
