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

    /// <summary>
    /// Runs one machine's part of `up`, whatever runs the machine: a user-facing failure is reported and recorded as the
    /// machine's; whatever happens, what waits for its stages learns which did not complete.
    /// </summary>
    public async Task RunMachineAsync(MachineDefinition machine, IProgressSink progress, Func<Task> work)
    {
        try
        {
            await work();
        }
        catch (SpawnlabException e)
        {
            progress.Machine(machine.Name, new Machines.MachineStep.Failed());
            Fail(machine, e.Message);
        }
        finally
        {
            foreach (var stage in machine.Stages)
                Done(machine.Name, stage.Name).TrySetResult(false);
        }
    }

    /// <summary>Waits for what the machine's boot waits for; false (its stages skipped, and said so) when one did not complete.</summary>
    public async Task<bool> WaitForBootAsync(MachineDefinition machine, IProgressSink progress, CancellationToken cancellationToken)
    {
        progress.Machine(machine.Name, new Machines.MachineStep.Waiting());
        if (await WaitForAsync(machine.After, cancellationToken) is not { } blocker)
            return true;
        Skip(machine, 0, new SkipReason.Waited(blocker.ToString()));
        progress.Machine(machine.Name, new Machines.MachineStep.Skipped(null, blocker.ToString()));
        return false;
    }

    /// <summary>Waits for stages of other machines; returns the first that failed or was skipped, or null.</summary>
    public async Task<StageRef?> WaitForAsync(IEnumerable<StageRef> references, CancellationToken cancellationToken)
    {
        foreach (var reference in references)
        {
            if (!await Done(reference.Machine, reference.Stage).Task.WaitAsync(cancellationToken))
                return reference;
        }
        return null;
    }

    /// <summary>
    /// The machine's stages after the <paramref name="cached"/> first, each after what it waits for and in a job slot,
    /// whatever runs them (<paramref name="runStage"/>, given the stage's index); false when one was skipped.
    /// </summary>
    public async Task<bool> RunStagesAsync(MachineDefinition machine, int cached, Func<int, Task> runStage, IProgressSink progress, CancellationToken cancellationToken)
    {
        for (var i = 0; i < cached; i++)
            Done(machine.Name, machine.Stages[i].Name).TrySetResult(true);
        for (var i = cached; i < machine.Stages.Count; i++)
        {
            var stage = machine.Stages[i];
            if (await WaitForAsync(stage.After, cancellationToken) is { } blocker)
            {
                Skip(machine, i, new SkipReason.Waited(blocker.ToString()));
                progress.Machine(machine.Name, new Machines.MachineStep.Skipped(stage.Name, blocker.ToString()));
                return false;
            }
            var index = i;
            await InSlotAsync(() => runStage(index), cancellationToken);
            Done(machine.Name, stage.Name).TrySetResult(true);
        }
        return true;
    }

    /// <summary>
    /// One stage of a machine, whatever runs it: recorded as started, run (<paramref name="execute"/> returns its checks),
    /// its checks added to the run's; a stage that fails or whose check fails is recorded as failed and skips the rest;
    /// one that passes is snapshotted (<paramref name="snapshot"/>) and recorded as ran, its key the root's.
    /// </summary>
    public async Task RunStageAsync(MachineState state, IReadOnlyList<string> keys, int index, string log, IProgressSink progress,
        Func<Task<IReadOnlyList<CheckResult>>> execute, Func<Task> snapshot)
    {
        var machine = lab.Machines[state.Name];
        var stage = machine.Stages[index];
        var record = state.Stages[index];
        progress.Machine(machine.Name, new Machines.MachineStep.RunningStage(stage.Name, index + 1, keys.Count));
        journal.Update(_ =>
        {
            state.RootAt = null;
            record.StartedAt = DateTimeOffset.UtcNow;
            record.EndedAt = null;
        });
        void Failed() => journal.Update(_ =>
        {
            record.Status = StageStatus.Failed;
            record.EndedAt = DateTimeOffset.UtcNow;
        });
        IReadOnlyList<CheckResult> results;
        try
        {
            results = await execute();
        }
        catch (Exception e) when (e is SpawnlabException or OperationCanceledException)
        {
            Failed();
            Skip(machine, index, new SkipReason.StageFailed(stage.Name));
            throw;
        }
        AddChecks(results);
        if (results.FirstOrDefault(r => r.Outcome == CheckOutcome.Failed) is { } failed)
        {
            Failed();
            Skip(machine, index + 1, new SkipReason.StageFailed(stage.Name));
            throw new StageFailedException(machine.Name, stage.Name, $"check '{failed.Name}'",
                $"{failed.Message}{Environment.NewLine}the stage's log ({log}) ends with:{Environment.NewLine}{Host.CappedLog.Tail(log)}");
        }
        progress.Machine(machine.Name, new Machines.MachineStep.Snapshotting(stage.Name));
        await snapshot();
        journal.Update(_ =>
        {
            record.Status = StageStatus.Ran;
            record.EndedAt = record.SnapshotAt = DateTimeOffset.UtcNow;
            state.RootAt = keys[index];
        });
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
