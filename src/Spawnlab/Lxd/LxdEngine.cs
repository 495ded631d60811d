using System.Globalization;
using System.Text.Json.Nodes;
using Spawnlab.Host;
using Spawnlab.Images;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Networks;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lxd;

/// <summary>
/// A lab on an LXD (or Incus) daemon, through its REST API: the images Spawnlab builds imported under their keys, one
/// managed network per lab network, one project holding the lab's instances, stages run through <c>lxc exec</c> and
/// kept as instance snapshots named by stage key. Every object is recorded in the lab's state before it is made, and
/// `down` removes what is recorded, newest first, as for a lab on this host.
/// </summary>
public sealed partial class LxdEngine(IHost host, SpawnlabOptions options, IProgressSink progress, StateStore store)
{
    /// <summary>The daemon (its socket, or the lxc remote the lab names) and project of a lab file, or why none can be used.</summary>
    public static LxdPlace PlaceOf(LabDefinition lab)
    {
        if (lab.Lxd?.Remote is { } remote && !LxdClient.IsSocket(remote))
            return new LxdPlace("", ProjectOf(lab)) { Remote = LxdRemote.Find(remote).Name };
        return new LxdPlace(
            LxdClient.FindSocket(lab.Lxd?.Remote) ?? throw new SpawnlabException(
                $"lab {lab.Name} has 'engine: lxd', and no LXD daemon socket was found ($LXD_DIR/unix.socket, /var/snap/lxd/common/lxd/unix.socket, /var/lib/lxd/unix.socket); start the daemon, or set 'lxd: remote:' to its socket or to an lxc remote"),
            ProjectOf(lab));
    }

    public static string ProjectOf(LabDefinition lab) => lab.Lxd?.Project ?? $"spawnlab-{lab.Name}";

    /// <summary>What stands for an instance's root where a root path is shown or planned: lxd:PROJECT/NAME.</summary>
    public static string RootName(LxdPlace place, string machine) => $"lxd:{place.Project}/{machine}";

    /// <summary>What stands for an instance's snapshot in a plan: lxd:PROJECT/NAME@KEY.</summary>
    public static string SnapshotName(LxdPlace place, string machine, string key) => $"{RootName(place, machine)}@{key}";

    /// <summary>
    /// The instances of the lab's project and their snapshots, as <see cref="RootName"/> and <see cref="SnapshotName"/>
    /// say them, for `up --dry-run`; null when the daemon cannot be reached.
    /// </summary>
    public static async Task<HashSet<string>?> ExistingAsync(LxdPlace place, CancellationToken cancellationToken)
    {
        try
        {
            using var client = LxdClient.For(place);
            var found = new HashSet<string>(StringComparer.Ordinal);
            var instances = await client.GetOrNullAsync(LxdClient.InProject("/1.0/instances?recursion=2", place.Project), cancellationToken);
            foreach (var instance in instances?.AsArray() ?? [])
            {
                var name = instance?["name"]?.GetValue<string>() ?? "";
                found.Add(RootName(place, name));
                foreach (var snapshot in instance?["snapshots"]?.AsArray() ?? [])
                    found.Add(SnapshotName(place, name, snapshot?["name"]?.GetValue<string>() ?? ""));
            }
            return found;
        }
        catch (LxdException)
        {
            return null;
        }
    }

    /// <summary>Brings the lab up on the daemon; <paramref name="journal"/> is its state, opened for this engine.</summary>
    /// <param name="ansibleInventory">What an `ansible:` stage runs against (the lab's inventory for a machine, and Spawnlab's collection).</param>
    internal async Task<UpResult> UpAsync(LabDefinition lab, UpOptions up, StoragePool pool, StateJournal journal,
        Func<LabRun, string, CancellationToken, Task<(string Inventory, string Collections)>> ansibleInventory, CancellationToken cancellationToken)
    {
        var place = journal.State.Lxd!;
        using var client = LxdClient.For(place);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await CheckDaemonAsync(client, cancellationToken);
        await EnsureProjectAsync(client, journal, place.Project, cancellationToken);
        var members = await MembersAsync(client, cancellationToken);
        var storagePool = await EnsureStoragePoolAsync(client, journal, lab, members, cancellationToken);
        await RemoveObsoleteAsync(client, lab, journal, cancellationToken);
        progress.Phase("lxd", clock.Elapsed);

        clock.Restart();
        var images = new ImageStore(host.Shell, pool, progress);
        var imagePaths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var image in lab.Machines.Values.Select(m => m.Image).Distinct())
        {
            imagePaths[image] = await images.EnsureAsync(lab.Images[image], lab.Images, cancellationToken);
            await ImportImageAsync(client, journal, imagePaths[image], cancellationToken);
        }
        progress.Phase("images", clock.Elapsed);

        clock.Restart();
        foreach (var network in lab.Networks.Values)
            await EnsureNetworkAsync(client, journal, lab, network, members, cancellationToken);
        progress.Phase("networks", clock.Elapsed);

        if (up.From is { } from && (!lab.Machines.TryGetValue(from.Machine, out var fromMachine) || fromMachine.Stages.All(s => s.Name != from.Stage)))
            throw new SpawnlabException($"--from {from.Machine}/{from.Stage}: lab {lab.Name} has no such machine and stage", exitCode: 2);
        var run = new LabRun(lab, pool, journal, up, imagePaths, Math.Max(1, up.Jobs ?? Environment.ProcessorCount * 4));
        foreach (var machine in lab.Machines.Values)
            run.BaseKeys[machine.Name] = UpPlanner.BaseKey(lab, machine, imagePaths[machine.Image]);
        run.Keys = StageKeys.ComputeLab(lab, run.BaseKeys, cancellationToken);
        var machines = new LxdMachines(host, options, progress, store, client, place, storagePool) { Members = members, AnsibleInventory = ansibleInventory };
        await Task.WhenAll(lab.Machines.Values.Select(machine => machines.RunAsync(run, machine, cancellationToken)));
        return new UpResult(journal.State, [.. run.Checks], [.. run.Failures], [.. run.Skipped]);
    }

    /// <summary>`restore` and `rollback` of a machine on LXD: an instance restore to the stage's snapshot, then a boot.</summary>
    public async Task RestoreMachineAsync(StateJournal journal, MachineState machine, int index, CancellationToken cancellationToken)
    {
        var place = machine.Lxd!;
        using var client = LxdClient.For(place);
        await new LxdMachines(host, options, progress, store, client, place, storagePool: "").RestoreAsync(journal, machine, index, cancellationToken);
    }

    private static async Task CheckDaemonAsync(LxdClient client, CancellationToken cancellationToken)
    {
        var server = await client.GetAsync("/1.0", cancellationToken);
        if (server?["auth"]?.GetValue<string>() != "trusted")
            throw new SpawnlabException($"the LXD daemon on {client.Socket} does not trust this user; run as root (or a member of the daemon's group)");
        var extensions = server["api_extensions"]?.AsArray().Select(e => e?.GetValue<string>()).ToHashSet() ?? [];
        if (!extensions.Contains("projects"))
            throw new SpawnlabException($"the LXD daemon on {client.Socket} has no projects (API extension 'projects'); Spawnlab needs LXD 3.6 or later, or Incus");
    }

    /// <summary>The lab's project: made and recorded when it does not exist; one that exists is used and left in place.</summary>
    private static async Task EnsureProjectAsync(LxdClient client, StateJournal journal, string project, CancellationToken cancellationToken)
    {
        var obj = new HostObject(HostObjectKind.LxdProject, project);
        if (await client.GetOrNullAsync($"/1.0/projects/{project}", cancellationToken) is not null)
            return;
        journal.Record(obj);
        // Images and networks are the default project's (a bridge network cannot live in another project on LXD 5.0);
        // profiles are the lab's own, so that nothing of the default profile reaches its instances.
        await client.SendAsync(HttpMethod.Post, "/1.0/projects", new JsonObject
        {
            ["name"] = project,
            ["description"] = $"Spawnlab lab {journal.State.Lab}",
            ["config"] = new JsonObject
            {
                ["features.images"] = "false",
                ["features.profiles"] = "true",
                ["features.storage.volumes"] = "false",
                ["features.networks"] = "false",
            },
        }, cancellationToken);
    }

    /// <summary>
    /// The storage pool of the lab's instances: the one the default profile's root disk names on a configured daemon;
    /// on a daemon with none, a `dir` pool of the lab's, made and recorded (and removed by `down`).
    /// </summary>
    /// <summary>The members of the daemon's cluster that are online, by name; none for a daemon that is not clustered.</summary>
    private static async Task<IReadOnlyList<string>> MembersAsync(LxdClient client, CancellationToken cancellationToken)
    {
        var cluster = await client.GetOrNullAsync("/1.0/cluster", cancellationToken);
        if (cluster?["enabled"]?.GetValue<bool>() != true)
            return [];
        var members = await client.GetAsync("/1.0/cluster/members?recursion=1", cancellationToken);
        return [.. (members?.AsArray() ?? [])
            .Where(m => m?["status"]?.GetValue<string>() == "Online")
            .Select(m => m!["server_name"]!.GetValue<string>())
            .Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Creates a storage pool or network. In a cluster LXD wants it defined on each member first (pending, with the
    /// member's own keys, none here), then made cluster-wide with the shared configuration.
    /// </summary>
    private static async Task CreateEverywhereAsync(LxdClient client, string collection, JsonObject body, IReadOnlyList<string> members, CancellationToken cancellationToken)
    {
        foreach (var member in members)
        {
            var pending = (JsonObject)body.DeepClone();
            pending["config"] = new JsonObject();
            pending.Remove("description");
            await client.SendAsync(HttpMethod.Post, $"{collection}?target={Uri.EscapeDataString(member)}", pending, cancellationToken);
        }
        await client.SendAsync(HttpMethod.Post, collection, body, cancellationToken);
    }

    private static async Task<string> EnsureStoragePoolAsync(LxdClient client, StateJournal journal, LabDefinition lab, IReadOnlyList<string> members, CancellationToken cancellationToken)
    {
        if (journal.State.Objects.FirstOrDefault(o => o.Kind == HostObjectKind.LxdStoragePool) is { } recorded
            && await client.GetOrNullAsync($"/1.0/storage-pools/{recorded.Name}", cancellationToken) is not null)
        {
            return recorded.Name;
        }
        var profile = await client.GetOrNullAsync("/1.0/profiles/default", cancellationToken);
        if (profile?["devices"]?["root"]?["pool"]?.GetValue<string>() is { Length: > 0 } pool)
            return pool;
        var name = $"spawnlab-{lab.Name}";
        journal.Record(new HostObject(HostObjectKind.LxdStoragePool, name));
        if (await client.GetOrNullAsync($"/1.0/storage-pools/{name}", cancellationToken) is null)
        {
            await CreateEverywhereAsync(client, "/1.0/storage-pools", new JsonObject
            {
                ["name"] = name,
                ["driver"] = "dir",
                ["description"] = $"Spawnlab lab {lab.Name}: the daemon had no default pool",
                ["config"] = new JsonObject(),
            }, members, cancellationToken);
        }
        return name;
    }

    /// <summary>
    /// An image Spawnlab built, imported once as a unified tarball (metadata.yaml and rootfs/) under the image's key
    /// as its alias; the lab records it and `down` removes it (instances do not need their image once made).
    /// </summary>
    private async Task ImportImageAsync(LxdClient client, StateJournal journal, string imagePath, CancellationToken cancellationToken)
    {
        var alias = Path.GetFileName(imagePath);
        if (await client.GetOrNullAsync($"/1.0/images/aliases/{alias}", cancellationToken) is not null)
            return;
        progress.Report($"importing image {alias} into LXD");
        journal.Record(new HostObject(HostObjectKind.LxdImage, alias));
        var work = Directory.CreateTempSubdirectory("spawnlab-lxd-image-").FullName;
        try
        {
            var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            await File.WriteAllTextAsync(Path.Combine(work, "metadata.yaml"), $"""
                architecture: x86_64
                creation_date: {created}
                properties:
                  description: Spawnlab image {alias}
                  os: debian

                """, cancellationToken);
            var tarball = Path.Combine(work, "image.tar");
            // The root's entries go under rootfs/; the targets of symbolic links stay as they are (flag S): a
            // relative target such as ../../lib/nginx/modules would otherwise become rootfs./../lib/nginx/modules.
            await host.Shell.RunAsync(HostCommand.Of("tar", "--numeric-owner", "--xattrs", "--acls", "-cf", tarball, "-C", work, "metadata.yaml",
                "-C", imagePath, "--transform", "s,^\\.,rootfs,S", "."), cancellationToken);
            var fingerprint = await client.ImportImageAsync(tarball, new Dictionary<string, string> { ["spawnlab.image"] = alias }, cancellationToken);
            await client.SendAsync(HttpMethod.Post, "/1.0/images/aliases", new JsonObject { ["name"] = alias, ["target"] = fingerprint }, cancellationToken);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>A lab network as an LXD managed bridge, recorded, made or brought to what the lab file says.</summary>
    /// <param name="members">In a cluster, its members: the network is a bridge on each, joined into one segment by a
    /// VXLAN tunnel (multicast, its id from the network's name), since OVN is not what this engine makes yet.</param>
    private async Task EnsureNetworkAsync(LxdClient client, StateJournal journal, LabDefinition lab, NetworkDefinition network, IReadOnlyList<string> members, CancellationToken cancellationToken)
    {
        var name = HostNames.LxdBridge(lab.Name, network.Name);
        var config = new JsonObject
        {
            ["ipv4.address"] = network.Host is { } address ? $"{address}/{network.Subnet.PrefixLength}" : "none",
            ["ipv4.nat"] = network.Nat ? "true" : "false",
            ["ipv6.address"] = "none",
            ["dns.domain"] = lab.Name,
        };
        if (network.Host is not null)
        {
            config["ipv4.dhcp"] = network.Dhcp ? "true" : "false";
            if (network.Dhcp)
            {
                var (start, end) = Ipv4.UpperHalf(network.Subnet);
                config["ipv4.dhcp.ranges"] = $"{start}-{end}";
            }
        }
        if (members.Count > 0)
        {
            config["tunnel.t.protocol"] = "vxlan";
            config["tunnel.t.id"] = (BitConverter.ToUInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name))) % 16_000_000 + 1).ToString(CultureInfo.InvariantCulture);
            if (network.Host is not null)
                progress.Report($"network {network.Name} spans {members.Count} members: each member's bridge has the host's address{(network.Dhcp ? " and serves DHCP from the same range, so leases may clash" : "")}");
        }
        var obj = new HostObject(HostObjectKind.LxdNetwork, name);
        journal.Update(s => s.Networks[network.Name] = new NetworkState
        {
            Name = network.Name,
            Bridge = name,
            Subnet = network.Subnet.ToString(),
            HostAddress = network.Host is { } host ? $"{host}/{network.Subnet.PrefixLength}" : null,
            Nat = network.Nat,
            Dhcp = network.Dhcp,
        });
        if (await client.GetOrNullAsync($"/1.0/networks/{name}", cancellationToken) is not null)
        {
            if (!journal.Has(obj))
                throw new SpawnlabException(StateJournal.LeftBehind(lab.Name, $"LXD network {name}, the network of '{network.Name}',"));
            await client.SendAsync(HttpMethod.Put, $"/1.0/networks/{name}", new JsonObject { ["config"] = config, ["description"] = $"Spawnlab lab {lab.Name}, network {network.Name}" }, cancellationToken);
            return;
        }
        journal.Record(obj);
        await CreateEverywhereAsync(client, "/1.0/networks", new JsonObject
        {
            ["name"] = name,
            ["type"] = "bridge",
            ["description"] = $"Spawnlab lab {lab.Name}, network {network.Name}",
            ["config"] = config,
        }, members, cancellationToken);
    }

    /// <summary>Machines and networks that the lab file no longer has go before the rest comes up.</summary>
    private async Task RemoveObsoleteAsync(LxdClient client, LabDefinition lab, StateJournal journal, CancellationToken cancellationToken)
    {
        foreach (var machine in journal.State.Machines.Values.Where(m => !lab.Machines.ContainsKey(m.Name)).ToList())
        {
            progress.Machine(machine.Name, new Machines.MachineStep.Removing());
            await RemoveInstanceAsync(client, journal, machine.Name, cancellationToken);
            journal.Update(s => s.Machines.Remove(machine.Name));
        }
        foreach (var network in journal.State.Networks.Values.Where(n => !lab.Networks.ContainsKey(n.Name)).ToList())
        {
            await RemoveObjectAsync(client, journal, new HostObject(HostObjectKind.LxdNetwork, network.Bridge), cancellationToken);
            journal.Update(s => s.Networks.Remove(network.Name));
        }
    }

    /// <summary>An instance stopped at once and deleted with its snapshots, and forgotten.</summary>
    internal static async Task RemoveInstanceAsync(LxdClient client, StateJournal journal, string name, CancellationToken cancellationToken)
    {
        var place = journal.State.Lxd!;
        await LxdRuntime.StopInstanceAsync(client, place.Project, name, TimeSpan.Zero, cancellationToken);
        await client.DeleteAsync(LxdClient.InProject($"/1.0/instances/{name}", place.Project), cancellationToken);
        journal.Forget([new HostObject(HostObjectKind.LxdInstance, name)]);
    }

    /// <summary>
    /// Stops the lab's instances and removes every LXD object it recorded, newest first. One that cannot be removed
    /// does not stop the rest: it stays recorded and is named in the error, and the next `down` tries it again.
    /// </summary>
    public async Task DownAsync(StateJournal journal, CancellationToken cancellationToken)
    {
        var place = journal.State.Lxd!;
        using var client = LxdClient.For(place);
        var left = new List<string>();
        // The instances are deleted next, so they are killed, not shut down (as on this host), side by side; then
        // every object goes in reverse order.
        await Task.WhenAll(journal.State.Machines.Values.Select(async machine =>
        {
            try
            {
                progress.Machine(machine.Name, new Machines.MachineStep.Stopping());
                await LxdRuntime.StopInstanceAsync(client, place.Project, machine.Name, TimeSpan.Zero, cancellationToken);
            }
            catch (LxdException e)
            {
                progress.Report($"machine {machine.Name}: {e.Message}");
            }
        }));
        foreach (var obj in journal.State.Objects.AsEnumerable().Reverse().ToList())
        {
            try
            {
                await RemoveObjectAsync(client, journal, obj, cancellationToken);
            }
            catch (LxdException e)
            {
                left.Add($"{obj}: {e.Message}");
            }
        }
        if (left.Count > 0)
            throw new SpawnlabException($"lab {journal.State.Lab} is partly down; still recorded (run `spawnlab down {journal.State.Lab}` again):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", left));
        store.Delete(journal.State.Lab);
    }

    private static async Task RemoveObjectAsync(LxdClient client, StateJournal journal, HostObject obj, CancellationToken cancellationToken)
    {
        switch (obj.Kind)
        {
            case HostObjectKind.LxdInstance:
                await RemoveInstanceAsync(client, journal, obj.Name, cancellationToken);
                return;
            case HostObjectKind.LxdNetwork:
                await client.DeleteAsync($"/1.0/networks/{obj.Name}", cancellationToken);
                break;
            case HostObjectKind.LxdImage:
                if (await client.GetOrNullAsync($"/1.0/images/aliases/{obj.Name}", cancellationToken) is { } alias
                    && alias["target"]?.GetValue<string>() is { } fingerprint)
                {
                    await client.DeleteAsync($"/1.0/images/{fingerprint}", cancellationToken);
                }
                break;
            case HostObjectKind.LxdStoragePool:
                await client.DeleteAsync($"/1.0/storage-pools/{obj.Name}", cancellationToken);
                break;
            case HostObjectKind.LxdProject:
                // The project's own default profile goes with it; anything else left in it makes LXD refuse.
                await client.DeleteAsync($"/1.0/projects/{obj.Name}", cancellationToken);
                break;
            default:
                throw new SpawnlabException($"lab {journal.State.Lab} on LXD records {obj}, which is not an LXD object; refusing to touch it");
        }
        journal.Forget([obj]);
    }
}
