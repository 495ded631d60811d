using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>
/// The lab's state as machines come up and go down in parallel: each change is saved at once, under a lock,
/// so that what is on disk always covers what exists on the host.
/// </summary>
public sealed class StateJournal(StateStore store, LabState state)
{
    private readonly Lock _lock = new();

    public LabState State => state;

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

    /// <summary>Forgets an object once it is gone from the host.</summary>
    public void Forget(HostObject obj)
    {
        lock (_lock)
        {
            if (state.Objects.Remove(obj))
                store.Save(state);
        }
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
