namespace Spawnlab.Host;

/// <summary>
/// A process identified by its pid and its start time (in clock ticks since boot), so that a recorded pid
/// reused by an unrelated process after a crash or a reboot is never signalled. What it is doing is asked of
/// <see cref="IProcessTable"/>.
/// </summary>
public sealed record HostProcess(int Pid, long StartTicks)
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
}
