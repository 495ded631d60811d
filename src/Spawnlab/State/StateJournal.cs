namespace Spawnlab.State;

/// <summary>
/// The lab's state as machines come up and go down in parallel: each change is saved at once, under a lock,
/// so that what is on disk always covers what exists on the host.
/// </summary>
public sealed class StateJournal(StateStore store, LabState state)
{
    private readonly Lock _lock = new();

    private IReadOnlyList<LabState>? _otherLabs;

    public LabState State => state;

    /// <summary>The other labs' states, read once: what they record is not this lab's to remove.</summary>
    public IReadOnlyList<LabState> OtherLabs => _otherLabs ??= [.. store.LoadAll().Where(l => l.Lab != state.Lab)];

    public string LabStateDirectory => store.LabDirectory(state.Lab);

    /// <summary>What to say of an object named as the lab's that its state does not record.</summary>
    public static string LeftBehind(string lab, string what) =>
        $"{what} exists but lab {lab} did not record it: it is left from a run of lab {lab} whose state was lost " +
        $"(`spawnlab clean --force {lab}` removes what is left of it), or another program made it; refusing to take it over";

    /// <summary>Records an object before it is created.</summary>
    public void Record(HostObject obj)
    {
        lock (_lock)
        {
            if (state.Has(obj))
                return;
            state.Objects.Add(obj);
            store.Save(state);
        }
    }

    /// <summary>Whether the object is recorded, read under the lock: machines record and forget objects in parallel.</summary>
    public bool Has(HostObject obj)
    {
        lock (_lock)
            return state.Has(obj);
    }

    /// <summary>The recorded objects that match, in a list of their own read under the lock.</summary>
    public IReadOnlyList<HostObject> Recorded(Func<HostObject, bool> predicate)
    {
        lock (_lock)
            return [.. state.Objects.Where(predicate)];
    }

    /// <summary>A machine's recorded state, looked up under the lock: other machines are added in parallel.</summary>
    public MachineState? Machine(string name)
    {
        lock (_lock)
            return state.Machines.GetValueOrDefault(name);
    }

    /// <summary>Forgets objects once they are gone from the host, with one write of the state.</summary>
    public void Forget(IEnumerable<HostObject> objects)
    {
        lock (_lock)
        {
            var forgotten = objects.Count(state.Objects.Remove);
            if (forgotten > 0)
                store.Save(state);
        }
    }

    /// <summary>Forgets an object once it is gone from the host.</summary>
    public void Forget(HostObject obj) => Forget([obj]);

    /// <summary>The state as it is now, in a copy that the machines coming up in parallel do not change.</summary>
    public LabState Snapshot()
    {
        lock (_lock)
            return StateStore.Copy(state);
    }

    public void Update(Action<LabState> change)
    {
        lock (_lock)
        {
            change(state);
            store.Save(state);
        }
    }
}
