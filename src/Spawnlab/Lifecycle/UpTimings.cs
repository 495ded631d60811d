using System.Diagnostics;
using Spawnlab.Machines;

namespace Spawnlab.Lifecycle;

/// <summary>One phase of an `up`: how long it took from its first start to its last end, its time summed over machines, and for how many.</summary>
public sealed record TimingRow(string Phase, TimeSpan Wall, TimeSpan Sum, int Machines, TimeSpan Longest);

/// <summary>
/// Where the time of an `up` went (`up --timings`): the lab's own phases as the controller reports them, and each
/// machine's, from one of its steps to the next, passed on to the sink it wraps.
/// </summary>
public sealed class UpTimings(IProgressSink inner) : IProgressSink
{
    /// <summary>A machine's phases in the order a machine goes through them.</summary>
    public static readonly IReadOnlyList<string> MachinePhases = ["clone", "restore", "recreate", "wait", "boot", "wire", "ready", "lease", "stages", "snapshots"];

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private readonly List<(string Phase, TimeSpan Took)> _lab = [];
    private readonly Dictionary<string, (string Phase, TimeSpan Since)> _current = new(StringComparer.Ordinal);
    private readonly List<(string Machine, string Phase, TimeSpan Start, TimeSpan End)> _intervals = [];

    public void Report(string value) => inner.Report(value);

    public void Phase(string phase, TimeSpan took)
    {
        lock (_lock)
            _lab.Add((phase, took));
        inner.Phase(phase, took);
    }

    public void Machine(string machine, MachineStep step)
    {
        var now = _clock.Elapsed;
        lock (_lock)
        {
            if (_current.Remove(machine, out var open))
                _intervals.Add((machine, open.Phase, open.Since, now));
            if (PhaseOf(step) is { } phase)
                _current[machine] = (phase, now);
        }
        inner.Machine(machine, step);
    }

    private static string? PhaseOf(MachineStep step) => step switch
    {
        MachineStep.Cloning => "clone",
        MachineStep.Restoring => "restore",
        MachineStep.Recreating => "recreate",
        MachineStep.Waiting => "wait",
        MachineStep.Booting or MachineStep.Restarting => "boot",
        MachineStep.Wiring => "wire",
        MachineStep.Starting => "ready",
        MachineStep.Leasing => "lease",
        MachineStep.RunningStage => "stages",
        MachineStep.Snapshotting => "snapshots",
        _ => null,
    };

    /// <summary>The lab's phases as they came, then the machines' in their order, then the whole.</summary>
    public IReadOnlyList<TimingRow> Rows()
    {
        lock (_lock)
        {
            var rows = _lab.Select(l => new TimingRow(l.Phase, l.Took, l.Took, 0, l.Took)).ToList();
            foreach (var phase in MachinePhases)
            {
                var intervals = _intervals.Where(i => i.Phase == phase).ToList();
                if (intervals.Count == 0)
                    continue;
                var perMachine = intervals.GroupBy(i => i.Machine).Select(g => g.Aggregate(TimeSpan.Zero, (sum, i) => sum + (i.End - i.Start))).ToList();
                rows.Add(new TimingRow(phase,
                    intervals.Max(i => i.End) - intervals.Min(i => i.Start),
                    perMachine.Aggregate(TimeSpan.Zero, (sum, t) => sum + t),
                    perMachine.Count,
                    perMachine.Max()));
            }
            rows.Add(new TimingRow("total", _clock.Elapsed, _clock.Elapsed, _intervals.Select(i => i.Machine).Distinct().Count(), _clock.Elapsed));
            return rows;
        }
    }
}
