using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Spawnlab.Labs;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

/// <summary>What `up` does to one machine's root before it boots.</summary>
public enum RootAction
{
    /// <summary>A new root, cloned from the image.</summary>
    Clone,

    /// <summary>Its definition changed: the machine, its root and snapshots go, and it is cloned again.</summary>
    Recreate,

    /// <summary>The live root is put back to the snapshot of the last cached stage (or to the fresh root).</summary>
    Restore,

    /// <summary>The live root already holds the last cached stage.</summary>
    Keep,
}

/// <summary>One machine in a plan: what happens to its root, the stages restored from the cache and the stages run.</summary>
public sealed record MachineUpPlan(string Machine, RootAction Root, IReadOnlyList<string> Cached, IReadOnlyList<string> Run, string? RestoredStage);

/// <summary>Everything `up` would do, decided from the lab file, the recorded state and what the pool holds.</summary>
public sealed record UpPlan(
    string Lab,
    IReadOnlyList<string> ImagesToBootstrap,
    IReadOnlyList<string> NetworksToCreate,
    IReadOnlyList<string> MachinesToRemove,
    IReadOnlyList<string> NetworksToRemove,
    IReadOnlyList<MachineUpPlan> Machines);

/// <summary>
/// Decides, without touching the host, what `up` does: which images it bootstraps, which networks it makes or removes,
/// and for each machine the longest prefix of stages the cache holds, what becomes of its root and which stages run.
/// `up` follows the same decisions (<see cref="CachedPrefix"/>); `up --dry-run` prints them.
/// </summary>
public static class UpPlanner
{
    /// <param name="imagePath">Where an image of this definition lives in the pool.</param>
    /// <param name="exists">Whether a path of the pool exists (an image, a root, a snapshot).</param>
    public static UpPlan Plan(LabDefinition lab, LabState? state, UpOptions options, Func<ImageDefinition, string> imagePath, Func<string, bool> exists, Func<string, string, string> snapshotPath)
    {
        var imagePaths = lab.Images.Values.ToDictionary(i => i.Name, imagePath, StringComparer.Ordinal);
        imagePaths[""] = "";
        var baseKeys = lab.Machines.Values.ToDictionary(m => m.Name, m => BaseKey(lab, m, imagePaths[m.Image]), StringComparer.Ordinal);
        var keys = StageKeys.ComputeLab(lab, baseKeys);
        var machines = new List<MachineUpPlan>();
        foreach (var machine in lab.Machines.Values)
        {
            var known = state?.Machines.GetValueOrDefault(machine.Name);
            var changed = known is not null && known.Config != ConfigHash(lab, machine, imagePaths[machine.Image]);
            var machineKeys = keys[machine.Name];
            var cached = changed ? 0 : CachedPrefix(machine, machineKeys, key => exists(snapshotPath(machine.Name, key)), options);
            var target = cached == 0 ? StageKeys.Start(lab, machine.Name, baseKeys[machine.Name], keys) : machineKeys[cached - 1];
            var rootObject = known?.Lxd is not null ? new HostObject(HostObjectKind.LxdInstance, known.Name) : new HostObject(HostObjectKind.Root, known?.Root ?? "");
            var rootExists = known is not null && !changed && state!.Has(rootObject) && exists(known.Root);
            var root = changed ? RootAction.Recreate : !rootExists ? RootAction.Clone : known!.RootAt == target ? RootAction.Keep : RootAction.Restore;
            machines.Add(new MachineUpPlan(machine.Name, root,
                [.. machine.Stages.Take(cached).Select(s => s.Name)], [.. machine.Stages.Skip(cached).Select(s => s.Name)],
                root == RootAction.Restore && cached > 0 ? machine.Stages[cached - 1].Name : null));
        }
        return new UpPlan(
            lab.Name,
            [.. lab.Machines.Values.Where(m => m.HasImage).Select(m => lab.Images[m.Image]).Distinct().Where(i => !exists(imagePaths[i.Name])).Select(i => i.Name)],
            [.. lab.Networks.Keys.Where(n => state?.Networks.ContainsKey(n) != true)],
            [.. (state?.Machines.Keys ?? Enumerable.Empty<string>()).Where(m => !lab.Machines.ContainsKey(m))],
            [.. (state?.Networks.Keys ?? Enumerable.Empty<string>()).Where(n => !lab.Networks.ContainsKey(n))],
            machines);
    }

    /// <summary>How many of the machine's first stages are restored from the cache rather than run: the longest prefix whose snapshots exist, unless --no-cache or --from say otherwise.</summary>
    public static int CachedPrefix(MachineDefinition machine, IReadOnlyList<string> keys, Func<string, bool> snapshotExists, UpOptions options)
    {
        var cached = 0;
        while (cached < keys.Count && snapshotExists(keys[cached]))
            cached++;
        if (options.NoCache)
            cached = 0;
        if (options.From is { } from && from.Machine == machine.Name)
            cached = Math.Min(cached, machine.Stages.ToList().FindIndex(s => s.Name == from.Stage));
        return cached;
    }

    /// <summary>The key the machine's stage keys start from: its image and its definition.</summary>
    public static string BaseKey(LabDefinition lab, MachineDefinition machine, string image) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{Path.GetFileName(image)}/{ConfigHash(lab, machine, image)}")))[..24];

    /// <summary>What the running machine was made from; when it changes, the machine is made again.</summary>
    public static string ConfigHash(LabDefinition lab, MachineDefinition machine, string image)
    {
        var canonical = new JsonObject
        {
            ["image"] = image,
            // What a bind is, not where the lab file says it: a line added above it changes nothing.
            ["Binds"] = JsonNodes.Array(machine.Binds.Select(b => (JsonNode)new JsonObject
            {
                ["HostPath"] = b.HostPath,
                ["MachinePath"] = b.MachinePath,
                ["ReadOnly"] = b.ReadOnly,
                ["Machine"] = b.Machine,
            })),
            ["Tmpfs"] = JsonNodes.Array(machine.Tmpfs),
            ["ReadOnlyRoot"] = machine.ReadOnlyRoot,
            ["Forward"] = machine.Forward,
            ["PrivateUsers"] = machine.PrivateUsers,
            // A new password makes a new machine; only a hash of it enters the configuration's hash.
            ["Password"] = machine.RootPasswordFile is { } file ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))) : null,
            ["AuthorizedKeys"] = lab.AuthorizedKeys.Count == 0 ? null : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(lab.AuthorizedKeys.Select(File.ReadAllText))))),
            ["Interfaces"] = JsonNodes.Array(machine.Interfaces.Select(i => (JsonNode)new JsonObject
            {
                ["Network"] = i.Network,
                ["Cidr"] = i.Cidr,
                ["Gateway"] = i.Gateway?.ToString(),
                ["Dhcp"] = i.Dhcp,
                ["Subnet"] = lab.Networks[i.Network].Subnet.ToString(),
            })),
        };
        // How a container boots is written into its root: a new lean set remakes it.
        if (machine.Kind == MachineKind.Container)
            canonical["Boot"] = machine.FullBoot ? "full" : Machines.MachineRootFiles.LeanVersion;
        // An instance of LXD is not a root of this host's pool: the same machine on another engine is another machine.
        if (lab.Engine == LabEngine.Lxd)
            canonical["Engine"] = "lxd";
        var json = JsonNodes.Compact(canonical);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];
    }
}
