using Spawnlab.Checks;
using Spawnlab.Labs;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>One `up` of a lab: what every machine's task shares, and what they found.</summary>
internal sealed class LabRun(
    LabDefinition lab, StoragePool pool, StateJournal journal, UpOptions options, IReadOnlyDictionary<string, string> imagePaths, int jobs)
{
    private readonly Dictionary<string, TaskCompletionSource<bool>> _done = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource> _roots = new(StringComparer.Ordinal);
    private readonly List<CheckResult> _checks = [];
    private readonly List<string> _failures = [];
    private readonly List<string> _skipped = [];
    private readonly Lock _lock = new();

    public LabDefinition Lab => lab;
    public StoragePool Pool => pool;
    public StateJournal Journal => journal;
    public UpOptions Options => options;
    public IReadOnlyDictionary<string, string> ImagePaths => imagePaths;

    /// <summary>Bounds the machines that boot or run a stage at the same time (--jobs).</summary>
    private readonly SemaphoreSlim _jobs = new(jobs, jobs);

    /// <summary>How this run's VMs are run: kvm or tcg.</summary>
    public string Accel { get; init; } = "tcg";

    /// <summary>One writer at a time of Spawnlab's Ansible collection.</summary>
    public SemaphoreSlim AnsibleReady { get; } = new(1, 1);

    /// <summary>Runs work in one of the run's job slots, waiting for one to be free.</summary>
    public async Task<T> InSlotAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken)
    {
        await _jobs.WaitAsync(cancellationToken);
        try
        {
            return await work();
        }
        finally
        {
            _jobs.Release();
        }
    }

    public Task InSlotAsync(Func<Task> work, CancellationToken cancellationToken) =>
        InSlotAsync(async () =>
        {
            await work();
            return true;
        }, cancellationToken);

    public Dictionary<string, string> BaseKeys { get; } = new(StringComparer.Ordinal);
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Keys { get; set; } = new Dictionary<string, IReadOnlyList<string>>();

    public IReadOnlyList<CheckResult> Checks => _checks;
    public IReadOnlyList<string> Failures => _failures;
    public IReadOnlyList<string> Skipped => _skipped;

    /// <summary>Completes with true when the stage ran or was restored and its machine is up, false when it will not be.</summary>
    public TaskCompletionSource<bool> Done(string machine, string stage)
    {
        lock (_lock)
        {
            var key = $"{machine}/{stage}";
            if (!_done.TryGetValue(key, out var done))
                _done[key] = done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            return done;
        }
    }

    /// <summary>Completes once the machine's root is in place, for machines that mount it.</summary>
    public TaskCompletionSource RootReady(string machine)
    {
        lock (_lock)
        {
            if (!_roots.TryGetValue(machine, out var ready))
                _roots[machine] = ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return ready;
        }
    }

    public void AddChecks(IEnumerable<CheckResult> results)
    {
        lock (_lock)
            _checks.AddRange(results);
    }

    public void Fail(MachineDefinition machine, string message)
    {
        lock (_lock)
            _failures.Add($"{machine.Name}: {message}");
    }

    /// <summary>
    /// Stages from <paramref name="fromStage"/> on will not run: their checks are reported as skipped. A machine that
    /// waited for what did not complete is also listed as skipped (one whose own stage failed is listed as failed).
    /// </summary>
    public void Skip(MachineDefinition machine, int fromStage, SkipReason reason)
    {
        lock (_lock)
        {
            if (reason is SkipReason.Waited)
                _skipped.Add($"{machine.Name}: {reason}" + (fromStage < machine.Stages.Count ? $" (from stage {machine.Stages[fromStage].Name})" : ""));
            _checks.AddRange(machine.Stages.Skip(fromStage).SelectMany(stage =>
                stage.Checks.Select(check => CheckResult.Skipped(lab.Name, machine.Name, stage.Name, check, reason.ToString()))));
        }
    }
}

/// <summary>Why stages do not run.</summary>
public abstract record SkipReason
{
    /// <summary>They wait for a stage (MACHINE/STAGE) that did not complete.</summary>
    public sealed record Waited(string Blocker) : SkipReason
    {
        public override string ToString() => $"skipped because {Blocker} did not complete";
    }

    /// <summary>A stage of their own machine failed.</summary>
    public sealed record StageFailed(string Stage) : SkipReason
    {
        public override string ToString() => $"stage {Stage} failed";
    }
}

/// <summary>A machine ready to boot: its state, stage keys, how many stages the cache covers, and its snapshots.</summary>
internal sealed record MachinePlan(MachineState State, IReadOnlyList<string> Keys, int Cached, SnapshotStore Snapshots, string StartKey);
