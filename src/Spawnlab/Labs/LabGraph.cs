namespace Spawnlab.Labs;

/// <summary>
/// The order of work in a lab: each machine's boot, then its stages in order; a machine's `after:` holds its boot,
/// a stage's `after:` holds that stage. References must exist and the graph must have no cycle.
/// </summary>
public static class LabGraph
{
    /// <summary>A unit of work in the lab: a machine's boot (no stage) or one of its stages.</summary>
    public readonly record struct Node(string Machine, string? Stage)
    {
        public static Node Boot(string machine) => new(machine, null);

        public static Node Of(StageRef stage) => new(stage.Machine, stage.Stage);

        public override string ToString() => Stage is null ? $"{Machine} (its boot)" : $"{Machine}/{Stage}";
    }

    internal static void Validate(IReadOnlyDictionary<string, MachineDefinition> machines, YamlNodeReader reader, ISet<string> declaredMachines)
    {
        var ok = true;
        foreach (var machine in machines.Values)
        {
            foreach (var (reference, what) in machine.After.Select(r => (r, $"machine '{machine.Name}' after"))
                .Concat(machine.Stages.SelectMany(s => s.After.Select(r => (r, $"machine '{machine.Name}' stage '{s.Name}' after")))))
            {
                if (reference.Machine == machine.Name)
                {
                    reader.Error(reference.Line, reference.Column, $"{what}: '{reference}' is a stage of the same machine; its stages already run in order");
                    ok = false;
                }
                else if (!machines.TryGetValue(reference.Machine, out var target))
                {
                    if (!declaredMachines.Contains(reference.Machine))
                        reader.Error(reference.Line, reference.Column, $"{what}: no machine named '{reference.Machine}'; expected one of: {string.Join(", ", machines.Keys)}");
                    ok = false;
                }
                else if (target.Stages.All(s => s.Name != reference.Stage))
                {
                    reader.Error(reference.Line, reference.Column, target.Stages.Count == 0
                        ? $"{what}: machine '{target.Name}' has no stages, so no stage '{reference.Stage}'"
                        : $"{what}: machine '{target.Name}' has no stage '{reference.Stage}'; its stages: {string.Join(", ", target.Stages.Select(s => s.Name))}");
                    ok = false;
                }
            }
            foreach (var bind in machine.Binds.Where(b => b.Machine is not null))
            {
                if (bind.Machine == machine.Name || (!machines.ContainsKey(bind.Machine!) && !declaredMachines.Contains(bind.Machine!)))
                {
                    reader.Error(bind.Line, bind.Column, bind.Machine == machine.Name
                        ? $"machine '{machine.Name}' binds: a machine cannot mount its own root"
                        : $"machine '{machine.Name}' binds: no machine named '{bind.Machine}'");
                    ok = false;
                }
            }
        }
        if (!ok)
            return;
        if (FindCycle(machines) is { } cycle)
        {
            var first = cycle[0];
            var (line, column) = Position(machines, cycle);
            reader.Error(line, column, $"dependency cycle: {string.Join(" -> ", cycle)} -> {first}; expected `after:` to form no cycle");
        }
    }

    private static (int Line, int Column) Position(IReadOnlyDictionary<string, MachineDefinition> machines, IReadOnlyList<Node> cycle)
    {
        foreach (var node in cycle)
        {
            var machine = machines[node.Machine];
            var refs = node.Stage is null ? machine.After : machine.Stages.First(s => s.Name == node.Stage).After;
            if (refs.FirstOrDefault(r => cycle.Contains(Node.Of(r)) || r.Machine != node.Machine) is { Line: > 0 } found)
                return (found.Line, found.Column);
        }
        return (1, 1);
    }

    /// <summary>What a node waits for: a machine's boot waits for its `after:`; a stage for the one before it (or the boot) and its `after:`.</summary>
    public static IEnumerable<Node> Dependencies(IReadOnlyDictionary<string, MachineDefinition> machines, Node node)
    {
        var machine = machines[node.Machine];
        if (node.Stage is null)
            return machine.After.Select(Node.Of);
        var index = machine.Stages.ToList().FindIndex(s => s.Name == node.Stage);
        var previous = index == 0 ? Node.Boot(machine.Name) : new Node(machine.Name, machine.Stages[index - 1].Name);
        return machine.Stages[index].After.Select(Node.Of).Prepend(previous);
    }

    private static List<Node>? FindCycle(IReadOnlyDictionary<string, MachineDefinition> machines)
    {
        var nodes = machines.Values.SelectMany(m => m.Stages.Select(s => new Node(m.Name, s.Name)).Prepend(Node.Boot(m.Name))).ToList();
        var state = nodes.ToDictionary(n => n, _ => 0);
        var path = new List<Node>();
        List<Node>? Visit(Node node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var key in Dependencies(machines, node))
            {
                if (state[key] == 1)
                    return path[path.IndexOf(key)..];
                if (state[key] == 0 && Visit(key) is { } cycle)
                    return cycle;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (var node in nodes)
        {
            if (state[node] == 0 && Visit(node) is { } cycle)
            {
                cycle.Reverse();
                return cycle;
            }
        }
        return null;
    }
}
