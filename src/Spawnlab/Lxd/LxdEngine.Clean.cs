using System.Text.Json.Nodes;
using Spawnlab.State;

namespace Spawnlab.Lxd;

public sealed partial class LxdEngine
{
    private const string DescriptionPrefix = "Spawnlab lab ";

    /// <summary>
    /// Projects of the default daemon (the one the lxc client would reach) that Spawnlab made for a lab, as their
    /// description says, which no state records: what labs whose state was lost left there. Empty without a daemon.
    /// </summary>
    public async Task<IReadOnlyList<(string Project, string Lab)>> UnrecordedProjectsAsync(IReadOnlyList<LabState> labs, CancellationToken cancellationToken)
    {
        if (LxdClient.FindSocket(null) is not { } socket)
            return [];
        using var client = new LxdClient(socket);
        JsonNode? projects;
        try
        {
            projects = await client.GetAsync("/1.0/projects?recursion=1", cancellationToken);
        }
        catch (LxdException)
        {
            return [];
        }
        var recorded = labs.Where(l => l.Lxd?.Socket == socket).Select(l => l.Lxd!.Project).ToHashSet(StringComparer.Ordinal);
        return [.. (projects?.AsArray() ?? [])
            .Select(p => (Name: p?["name"]?.GetValue<string>() ?? "", Description: p?["description"]?.GetValue<string>() ?? ""))
            .Where(p => p.Description.StartsWith(DescriptionPrefix, StringComparison.Ordinal) && !recorded.Contains(p.Name))
            .Select(p => (p.Name, p.Description[DescriptionPrefix.Length..]))];
    }

    /// <summary>
    /// `clean --force LAB` on the default daemon: the objects Spawnlab made for the lab, found by the names and
    /// descriptions it gives them (its project's instances and the project, its networks, its storage pool), taken
    /// down as if recorded. What another lab's state records is left alone. Returns what was removed.
    /// </summary>
    public async Task<IReadOnlyList<string>> ForceCleanAsync(string lab, IReadOnlyList<LabState> others, CancellationToken cancellationToken)
    {
        if (LxdClient.FindSocket(null) is not { } socket)
            return [];
        using var client = new LxdClient(socket);
        try
        {
            await client.GetAsync("/1.0", cancellationToken);
        }
        catch (LxdException)
        {
            return [];
        }
        var project = $"spawnlab-{lab}";
        bool OthersRecord(HostObject obj) => others.Any(l => l.Lxd?.Socket == socket && l.Objects.Contains(obj));
        var state = new LabState { Lab = lab, PoolPath = "", Driver = "", Lxd = new LxdPlace(socket, project) };
        var projectNode = await client.GetOrNullAsync($"/1.0/projects/{project}", cancellationToken);
        if (projectNode?["description"]?.GetValue<string>() == $"{DescriptionPrefix}{lab}" && !OthersRecord(new HostObject(HostObjectKind.LxdProject, project)))
        {
            state.Objects.Add(new HostObject(HostObjectKind.LxdProject, project));
            foreach (var url in (await client.GetAsync(LxdClient.InProject("/1.0/instances", project), cancellationToken))?.AsArray() ?? [])
                state.Objects.Add(new HostObject(HostObjectKind.LxdInstance, url!.GetValue<string>().Split('?')[0].Split('/')[^1]));
        }
        if (await client.GetOrNullAsync($"/1.0/storage-pools/{project}", cancellationToken) is { } pool
            && pool["description"]?.GetValue<string>()?.StartsWith($"{DescriptionPrefix}{lab}:", StringComparison.Ordinal) == true
            && !OthersRecord(new HostObject(HostObjectKind.LxdStoragePool, project)))
        {
            state.Objects.Insert(0, new HostObject(HostObjectKind.LxdStoragePool, project));
        }
        foreach (var network in (await client.GetAsync("/1.0/networks?recursion=1", cancellationToken))?.AsArray() ?? [])
        {
            var name = network?["name"]?.GetValue<string>() ?? "";
            if (network?["description"]?.GetValue<string>()?.StartsWith($"{DescriptionPrefix}{lab}, network ", StringComparison.Ordinal) == true
                && !OthersRecord(new HostObject(HostObjectKind.LxdNetwork, name)))
            {
                state.Objects.Insert(0, new HostObject(HostObjectKind.LxdNetwork, name));
            }
        }
        if (state.Objects.Count == 0)
            return [];
        // Instances go first (they are last in the list), then networks and the pool, then the project.
        state.Objects.Sort((a, b) => Order(a.Kind).CompareTo(Order(b.Kind)));
        var removed = state.Objects.Select(o => $"lab {lab}: {o}").ToList();
        var journal = new StateJournal(store, state);
        await DownAsync(journal, cancellationToken);
        return removed;
    }

    /// <summary>The order objects are recorded in by `up` (removed in reverse).</summary>
    private static int Order(HostObjectKind kind) => kind switch
    {
        HostObjectKind.LxdProject => 0,
        HostObjectKind.LxdStoragePool => 1,
        HostObjectKind.LxdImage => 2,
        HostObjectKind.LxdNetwork => 3,
        _ => 4,
    };
}
