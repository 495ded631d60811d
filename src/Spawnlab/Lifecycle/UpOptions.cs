using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed record UpOptions
{
    /// <summary>Run every stage again, from the image.</summary>
    public bool NoCache { get; init; }

    /// <summary>Run this stage of this machine and every later one again, whatever the cache holds.</summary>
    public StageRef? From { get; init; }

    /// <summary>How many machines may boot or run a stage at the same time (default: 4 per core).</summary>
    public int? Jobs { get; init; }

    /// <summary>The interface every NAT network masquerades towards, instead of its 'uplink:' or the default route's.</summary>
    public string? Uplink { get; init; }
}

/// <summary>What `up` did: the lab's state, every check it ran or skipped, and the machines that failed.</summary>
public sealed record UpResult(LabState State, IReadOnlyList<CheckResult> Checks, IReadOnlyList<string> Failures, IReadOnlyList<string> Skipped);
