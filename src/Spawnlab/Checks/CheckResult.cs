using Spawnlab.Labs;

namespace Spawnlab.Checks;

public enum CheckOutcome
{
    Passed,
    Failed,
    Skipped,
}

/// <summary>One check of one stage of one machine, as a test suite reports it.</summary>
public sealed record CheckResult(string Lab, string Machine, string Stage, string Name, CheckOutcome Outcome, string Message, TimeSpan Duration)
{
    public static CheckResult Skipped(string lab, string machine, string stage, CheckDefinition check, string reason) =>
        new(lab, machine, stage, check.Describe(), CheckOutcome.Skipped, reason, TimeSpan.Zero);
}
