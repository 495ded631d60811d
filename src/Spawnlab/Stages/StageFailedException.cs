namespace Spawnlab.Stages;

/// <summary>A stage of a machine failed at one step; the machine is left running for inspection.</summary>
public sealed class StageFailedException(string machine, string stage, string step, string detail)
    : SpawnlabException($"machine {machine}, stage {stage}: {step} failed{Environment.NewLine}{detail}")
{
    public string Machine { get; } = machine;
    public string Stage { get; } = stage;
    public string Step { get; } = step;
}
