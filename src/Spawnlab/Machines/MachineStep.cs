namespace Spawnlab.Machines;

/// <summary>Where a machine is in a command: still at work, or ended one way or the other.</summary>
public enum MachinePhase
{
    Working,
    Ready,
    Failed,
    Skipped,
}

/// <summary>
/// What a machine is doing, as up, down, restore and rollback report it: a closed set of steps, each with the phase it
/// puts the machine in and the words a person reads.
/// </summary>
public abstract record MachineStep
{
    private MachineStep()
    {
    }

    public virtual MachinePhase Phase => MachinePhase.Working;

    public sealed record Cloning : MachineStep
    {
        public override string ToString() => "cloning";
    }

    /// <summary>The root goes back to the snapshot after <paramref name="Stage"/>, or to the fresh root (null).</summary>
    public sealed record Restoring(string? Stage) : MachineStep
    {
        public override string ToString() => Stage is null ? "restoring the fresh root" : $"restoring stage {Stage}";
    }

    public sealed record Recreating : MachineStep
    {
        public override string ToString() => "definition changed: recreating";
    }

    public sealed record Removing : MachineStep
    {
        public override string ToString() => "removed from the lab file: removing";
    }

    /// <summary>Its root is in place; it waits for what its boot waits for (after:) and for a job slot.</summary>
    public sealed record Waiting : MachineStep
    {
        public override string ToString() => "waiting";
    }

    public sealed record Booting : MachineStep
    {
        public override string ToString() => "booting";
    }

    /// <summary>A CLI killed between the start of the machine and its wiring left it frozen: it starts again.</summary>
    public sealed record Restarting : MachineStep
    {
        public override string ToString() => "its start was interrupted: starting again";
    }

    public sealed record Wiring : MachineStep
    {
        public override string ToString() => "wiring";
    }

    /// <summary>Started: waiting until systemd inside says running (or degraded).</summary>
    public sealed record Starting : MachineStep
    {
        public override string ToString() => "starting";
    }

    /// <summary>Waiting for a DHCP lease on each interface that takes one.</summary>
    public sealed record Leasing : MachineStep
    {
        public override string ToString() => "waiting for DHCP leases";
    }

    /// <summary>The machine's writes flushed and its root snapshotted after <paramref name="Stage"/>.</summary>
    public sealed record Snapshotting(string Stage) : MachineStep
    {
        public override string ToString() => $"snapshotting stage {Stage}";
    }

    public sealed record RunningStage(string Stage, int Number, int Count) : MachineStep
    {
        public override string ToString() => $"stage {Stage} ({Number}/{Count})";
    }

    public sealed record RootRestored(string What, TimeSpan Restore, TimeSpan Stop) : MachineStep
    {
        public override string ToString() => FormattableString.Invariant(
            $"root restored to {What} in {Restore.TotalMilliseconds:0} ms (machine stopped in {Stop.TotalMilliseconds:0} ms)");
    }

    public sealed record Stopping : MachineStep
    {
        public override string ToString() => "stopping";
    }

    public sealed record Stopped : MachineStep
    {
        public override string ToString() => "stopped";
    }

    public sealed record Ready(bool EveryStageCached) : MachineStep
    {
        public override MachinePhase Phase => MachinePhase.Ready;

        public override string ToString() => EveryStageCached ? "ready (every stage cached)" : "ready";
    }

    public sealed record Failed : MachineStep
    {
        public override MachinePhase Phase => MachinePhase.Failed;

        public override string ToString() => "failed";
    }

    /// <summary>The machine's boot (no <paramref name="Stage"/>) or one of its stages waited for <paramref name="Blocker"/>, which did not complete.</summary>
    public sealed record Skipped(string? Stage, string Blocker) : MachineStep
    {
        public override MachinePhase Phase => MachinePhase.Skipped;

        public override string ToString() => Stage is null ? $"skipped: {Blocker} did not complete" : $"stage {Stage} skipped: {Blocker} did not complete";
    }
}
