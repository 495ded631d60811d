using System.Text.Json.Nodes;
using Spawnlab.Checks;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lxd;

/// <summary>
/// One machine of a lab on LXD during `up`: its instance made from the image (or kept, or restored to the last stage
/// the cache holds), booted, and its stages run, each followed by a snapshot named by its key.
/// </summary>
internal sealed class LxdMachines(IHost host, SpawnlabOptions options, IProgressSink progress, StateStore store, LxdClient client, LxdPlace place, string storagePool)
{
    /// <summary>For an `ansible:` stage: the lab's inventory written for the machine, and the folder of Spawnlab's collection.</summary>
    public Func<LabRun, string, CancellationToken, Task<(string Inventory, string Collections)>>? AnsibleInventory { get; init; }

    /// <summary>In a cluster, its online members: machines are spread over them in the lab file's order.</summary>
    public IReadOnlyList<string> Members { get; init; } = [];

    private string Instance(string name) => LxdClient.InProject($"/1.0/instances/{name}", place.Project);

    public Task RunAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken) =>
        run.RunMachineAsync(machine, progress, async () =>
        {
            var plan = await run.InSlotAsync(() => PrepareAsync(run, machine, cancellationToken), cancellationToken);
            if (!await run.WaitForBootAsync(machine, progress, cancellationToken))
                return;
            var session = await run.InSlotAsync(() => BootAsync(run.Journal, plan.State, cancellationToken), cancellationToken);
            if (await RunStagesAsync(run, plan, session, cancellationToken))
                progress.Machine(machine.Name, new MachineStep.Ready(plan.Cached == plan.Keys.Count && plan.Keys.Count > 0));
        });

    /// <summary>The machine's state and instance, made or put back to the longest prefix of stages the cache holds.</summary>
    private async Task<LxdPlan> PrepareAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken)
    {
        var (lab, journal) = (run.Lab, run.Journal);
        var image = run.ImagePaths[machine.Image];
        var config = UpPlanner.ConfigHash(lab, machine, image);
        var known = journal.Machine(machine.Name);
        if (known is not null && known.Config != config)
        {
            progress.Machine(machine.Name, new MachineStep.Recreating());
            await LxdEngine.RemoveInstanceAsync(client, journal, machine.Name, cancellationToken);
            journal.Update(s => s.Machines.Remove(machine.Name));
            known = null;
        }
        var state = known ?? NewState(lab, machine, image, config);
        journal.Update(s =>
        {
            s.Machines[machine.Name] = state;
            state.Groups = [.. machine.Groups];
            state.Vars = (JsonObject)machine.Vars.DeepClone();
        });

        var keys = run.Keys[machine.Name];
        var snapshots = await SnapshotsAsync(machine.Name, journal, cancellationToken);
        var cached = UpPlanner.CachedPrefix(machine, keys, snapshots.Contains, run.Options);
        var plan = new LxdPlan(state, keys, cached, StageKeys.Start(lab, machine.Name, run.BaseKeys[machine.Name], run.Keys));
        LabController.RecordStages(journal, machine, plan.State, plan.Keys, plan.Cached, plan.StartKey);

        var target = cached == 0 ? plan.StartKey : keys[cached - 1];
        var exists = journal.Has(new HostObject(HostObjectKind.LxdInstance, machine.Name)) && await client.GetOrNullAsync(Instance(machine.Name), cancellationToken) is not null;
        if (exists && state.RootAt == target)
            return plan;
        if (exists && snapshots.Contains(target))
        {
            progress.Machine(machine.Name, new MachineStep.Restoring(cached == 0 ? null : machine.Stages[cached - 1].Name));
            journal.Update(_ => state.RootAt = null);
            await LxdRuntime.StopInstanceAsync(client, place.Project, machine.Name, TimeSpan.Zero, cancellationToken);
            await client.SendAsync(HttpMethod.Put, Instance(machine.Name), new JsonObject { ["restore"] = target }, cancellationToken);
        }
        else
        {
            progress.Machine(machine.Name, new MachineStep.Cloning());
            if (exists)
                await LxdEngine.RemoveInstanceAsync(client, journal, machine.Name, cancellationToken);
            journal.Update(_ => state.RootAt = null);
            await CreateAsync(journal, lab, machine, image, cancellationToken);
            await SnapshotAsync(machine.Name, plan.StartKey, cancellationToken);
        }
        journal.Update(_ => state.RootAt = target);
        return plan;
    }

    /// <summary>Stops the instance, restores it to just after stage <paramref name="index"/> (-1: its fresh root) and boots it.</summary>
    public async Task RestoreAsync(StateJournal journal, MachineState machine, int index, CancellationToken cancellationToken)
    {
        var key = index < 0 ? machine.BaseKey : machine.Stages[index].Key;
        if (key is null || !(await SnapshotsAsync(machine.Name, journal, cancellationToken)).Contains(key))
            throw new SpawnlabException(index < 0
                ? $"{journal.State.Lab}/{machine.Name} has no snapshot of its fresh root; `spawnlab up --from` reruns its stages"
                : $"stage {machine.Stages[index].Name} of {journal.State.Lab}/{machine.Name} has no snapshot (it is {machine.Stages[index].Status.ToString().ToLowerInvariant()}); `spawnlab up` runs it");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await LxdRuntime.StopInstanceAsync(client, place.Project, machine.Name, TimeSpan.Zero, cancellationToken);
        var stopped = clock.Elapsed;
        journal.Update(_ => machine.RootAt = null);
        await client.SendAsync(HttpMethod.Put, Instance(machine.Name), new JsonObject { ["restore"] = key }, cancellationToken);
        progress.Machine(machine.Name, new MachineStep.RootRestored(index < 0 ? "its fresh root" : $"stage {machine.Stages[index].Name}", clock.Elapsed - stopped, stopped));
        journal.Update(_ =>
        {
            machine.RootAt = key;
            foreach (var later in machine.Stages.Skip(index + 1))
                later.Status = StageStatus.Pending;
        });
        await BootAsync(journal, machine, cancellationToken);
        progress.Machine(machine.Name, new MachineStep.Ready(EveryStageCached: false));
    }

    /// <summary>The names of the instance's snapshots (stage keys); none when it does not exist.</summary>
    private async Task<HashSet<string>> SnapshotsAsync(string machine, StateJournal journal, CancellationToken cancellationToken)
    {
        if (!journal.Has(new HostObject(HostObjectKind.LxdInstance, machine)))
            return [];
        var list = await client.GetOrNullAsync(LxdClient.InProject($"/1.0/instances/{machine}/snapshots", place.Project), cancellationToken);
        // Each is a URL: /1.0/instances/NAME/snapshots/KEY?project=PROJECT.
        return list?.AsArray().Select(url => Uri.UnescapeDataString(url!.GetValue<string>().Split('?')[0].Split('/')[^1])).ToHashSet(StringComparer.Ordinal) ?? [];
    }

    /// <summary>Takes a snapshot named <paramref name="key"/>, replacing one of that name.</summary>
    private async Task SnapshotAsync(string machine, string key, CancellationToken cancellationToken)
    {
        await client.DeleteAsync(LxdClient.InProject($"/1.0/instances/{machine}/snapshots/{key}", place.Project), cancellationToken);
        await client.SendAsync(HttpMethod.Post, LxdClient.InProject($"/1.0/instances/{machine}/snapshots", place.Project),
            new JsonObject { ["name"] = key, ["stateful"] = false }, cancellationToken);
    }

    /// <summary>
    /// The instance: a system container from the image's alias, on the lab's networks with the machine's MACs (and
    /// fixed leases), its binds as disks and its tmpfs as mount entries; then the files that make it this machine of
    /// the lab (as a container's root gets them) pushed in before its first boot.
    /// </summary>
    private async Task CreateAsync(StateJournal journal, LabDefinition lab, MachineDefinition machine, string image, CancellationToken cancellationToken)
    {
        var devices = new JsonObject { ["root"] = new JsonObject { ["type"] = "disk", ["path"] = "/", ["pool"] = storagePool } };
        foreach (var iface in machine.Interfaces)
        {
            var nic = new JsonObject
            {
                ["type"] = "nic",
                ["network"] = HostNames.LxdBridge(lab.Name, iface.Network),
                ["name"] = iface.Network,
                ["hwaddr"] = HostNames.Mac(lab.Name, machine.Name, iface.Network),
            };
            if (iface.Dhcp && iface.Address is { } lease)
                nic["ipv4.address"] = lease.ToString();
            devices[$"nic-{iface.Network}"] = nic;
        }
        foreach (var (bind, i) in machine.Binds.Select((b, i) => (b, i)))
        {
            devices[$"bind{i}"] = new JsonObject
            {
                ["type"] = "disk",
                ["source"] = bind.HostPath,
                ["path"] = bind.MachinePath,
                ["readonly"] = bind.ReadOnly ? "true" : "false",
            };
        }
        var config = new JsonObject
        {
            ["security.privileged"] = machine.PrivateUsers ? "false" : "true",
            ["user.spawnlab.lab"] = lab.Name,
        };
        // systemd's container interface has /sys read-only (as nspawn mounts it); on a writable /sys, systemd-networkd
        // waits for a udev that does not run in a container, and never configures an interface.
        config["raw.lxc"] = "lxc.mount.auto = sys:ro\n"
            + string.Concat(machine.Tmpfs.Select(t => $"lxc.mount.entry = tmpfs {t.TrimStart('/')} tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0\n"));
        var obj = new HostObject(HostObjectKind.LxdInstance, machine.Name);
        if (await client.GetOrNullAsync(Instance(machine.Name), cancellationToken) is not null)
            throw new SpawnlabException(StateJournal.LeftBehind(lab.Name, $"LXD instance {place.Project}/{machine.Name}"));
        journal.Record(obj);
        var path = LxdClient.InProject("/1.0/instances", place.Project);
        if (Members.Count > 0)
        {
            var member = Members[lab.Machines.Keys.ToList().IndexOf(machine.Name) % Members.Count];
            progress.Report($"{machine.Name}: on member {member}");
            path += $"&target={Uri.EscapeDataString(member)}";
        }
        await client.SendAsync(HttpMethod.Post, path, new JsonObject
        {
            ["name"] = machine.Name,
            ["type"] = "container",
            ["source"] = new JsonObject { ["type"] = "image", ["alias"] = Path.GetFileName(image) },
            ["profiles"] = new JsonArray(),
            ["config"] = config,
            ["devices"] = devices,
        }, cancellationToken);
        await PushMachineFilesAsync(lab, machine, image, cancellationToken);
    }

    /// <summary>The files <see cref="MachineRootFiles"/> writes into a container's root, staged on the host and pushed in.</summary>
    private async Task PushMachineFilesAsync(LabDefinition lab, MachineDefinition machine, string image, CancellationToken cancellationToken)
    {
        var staging = Directory.CreateTempSubdirectory("spawnlab-lxd-root-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(staging, "etc"));
            MachineRootFiles.Write(staging, machine, lab, imageHasSshd: File.Exists(Path.Combine(image, "usr/sbin/sshd")));
            if (machine.Interfaces.Any(i => !i.Dhcp))
                MachineRootFiles.WriteStaticNetwork(staging, machine, lab);
            if (machine.RootPasswordFile is not null)
                throw new SpawnlabException($"machine {machine.Name}: 'root_password_file' is not supported on LXD yet");
            foreach (var entry in Directory.EnumerateFileSystemEntries(staging, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var path = "/" + Path.GetRelativePath(staging, entry);
                var info = new FileInfo(entry);
                if (info.LinkTarget is { } target)
                {
                    await client.DeleteAsync(LxdClient.InProject($"/1.0/instances/{machine.Name}/files?path={Uri.EscapeDataString(path)}", place.Project), cancellationToken);
                    await client.PushFileAsync(place.Project, machine.Name, path, [], "0777", target, cancellationToken);
                }
                else if (Directory.Exists(entry))
                {
                    await client.PushDirectoryAsync(place.Project, machine.Name, path, cancellationToken);
                }
                else
                {
                    var mode = Convert.ToString((int)File.GetUnixFileMode(entry), 8).PadLeft(4, '0');
                    await client.PushFileAsync(place.Project, machine.Name, path, await File.ReadAllBytesAsync(entry, cancellationToken), mode, null, cancellationToken);
                }
            }
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Starts the instance and waits for its boot, its routing and its leases.</summary>
    private async Task<MachineSession> BootAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken)
    {
        var session = await new LxdRuntime(host.Shell).BootAsync(new MachineBoot(journal, state, options.BootTimeout,
            (_, _) => Task.CompletedTask, step => progress.Machine(state.Name, step)), cancellationToken);
        if (state.Forward)
            await host.Shell.RunAsync(session.Enter(["/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]), cancellationToken);
        var leased = state.Interfaces.Where(i => i.Dhcp).ToList();
        if (leased.Count > 0)
            progress.Machine(state.Name, new MachineStep.Leasing());
        foreach (var iface in leased)
        {
            if (!await Poll.UntilAsync(async token => await AddressAsync(state.Name, iface.Name, token) is not null,
                    options.BootTimeout, TimeSpan.FromMilliseconds(200), cancellationToken))
            {
                throw new SpawnlabException($"machine {state.Name} got no DHCP lease on {iface.Name} within {options.BootTimeout.TotalSeconds:0} s: does network {iface.Network} have 'dhcp: true', or a machine this one waits for with 'after:' serve DHCP?");
            }
        }
        return session;
    }

    private Task<string?> AddressAsync(string machine, string iface, CancellationToken cancellationToken) =>
        LxdRuntime.AddressAsync(client, place, machine, iface, cancellationToken);

    private async Task<bool> RunStagesAsync(LabRun run, LxdPlan plan, MachineSession session, CancellationToken cancellationToken)
    {
        var machine = run.Lab.Machines[plan.State.Name];
        var runner = new StageRunner(host.Shell, new CheckRunner(host.Shell));
        if (!await run.RunStagesAsync(machine, plan.Cached, index => RunStageAsync(run, plan, runner, session, index, cancellationToken), progress, cancellationToken))
            return false;
        await PruneAsync(machine.Name, [.. plan.Keys.Prepend(plan.StartKey)], run.Journal, cancellationToken);
        return true;
    }

    /// <summary>Deletes the snapshots whose keys are no longer the machine's stages.</summary>
    private async Task PruneAsync(string machine, HashSet<string> keep, StateJournal journal, CancellationToken cancellationToken)
    {
        foreach (var name in await SnapshotsAsync(machine, journal, cancellationToken))
        {
            if (!keep.Contains(name))
                await client.DeleteAsync(LxdClient.InProject($"/1.0/instances/{machine}/snapshots/{name}", place.Project), cancellationToken);
        }
    }

    private Task RunStageAsync(LabRun run, LxdPlan plan, StageRunner runner, MachineSession session, int index, CancellationToken cancellationToken)
    {
        var (lab, state) = (run.Lab, plan.State);
        var stage = lab.Machines[state.Name].Stages[index];
        var log = store.StageLog(lab.Name, state.Name, index, stage.Name);
        return run.RunStageAsync(state, plan.Keys, index, log, progress,
            async () =>
            {
                var context = new StageContext(lab, state.Name, "", session)
                {
                    Ansible = stage.Ansible is null || AnsibleInventory is null ? null : await AnsibleInventory(run, state.Name, cancellationToken),
                };
                return await runner.RunAsync(context, stage, log, cancellationToken);
            },
            () => SnapshotAsync(state.Name, plan.Keys[index], cancellationToken));
    }

    private MachineState NewState(LabDefinition lab, MachineDefinition machine, string image, string config) => new()
    {
        Name = machine.Name,
        Image = image,
        Config = config,
        Root = LxdEngine.RootName(place, machine.Name),
        Namespace = "",
        Forward = machine.Forward,
        PrivateUsers = machine.PrivateUsers,
        Kind = MachineKind.Container,
        Lxd = place,
        LogFile = Path.Combine(store.LogDirectory(lab.Name), $"{machine.Name}.boot.log"),
        Interfaces = [.. machine.Interfaces.Select(i => new InterfaceState
        {
            Network = i.Network,
            Name = i.Network,
            HostVeth = "",
            Mac = HostNames.Mac(lab.Name, machine.Name, i.Network),
            Address = i.Dhcp ? null : i.Cidr,
            Gateway = i.Gateway?.ToString(),
            Dhcp = i.Dhcp,
            FixedLease = i.Dhcp ? i.Address?.ToString() : null,
        })],
    };
}

/// <summary>A machine ready to boot on LXD: its state, stage keys, how many stages the cache covers, and its start key.</summary>
internal sealed record LxdPlan(MachineState State, IReadOnlyList<string> Keys, int Cached, string StartKey);
