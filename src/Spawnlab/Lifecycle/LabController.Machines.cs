using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Spawnlab.Checks;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.Pool;
using Spawnlab.Stages;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>A machine's state, netns and root, made or put back to the longest prefix of stages the cache holds.</summary>
    private async Task<MachinePlan> PrepareMachineAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken)
    {
        var (lab, pool, journal) = (run.Lab, run.Pool, run.Journal);
        var state = await MachineStateAsync(run, machine, cancellationToken);
        // A machine with a user namespace is wired at each boot, in the network namespace nspawn makes for it; a VM
        // has taps, made at its boot.
        if (!state.PrivateUsers && state.Kind == MachineKind.Container)
            await WireAsync(journal, state, leader: null, cancellationToken);

        // The longest prefix of stages whose snapshots exist is kept; the rest runs again.
        var keys = run.Keys[machine.Name];
        var snapshots = new SnapshotStore(pool, journal, lab.Name, machine.Name);
        var plan = new MachinePlan(state, keys, UpPlanner.CachedPrefix(machine, keys, snapshots.Exists, run.Options), snapshots,
            StageKeys.Start(lab, machine.Name, run.BaseKeys[machine.Name], run.Keys));
        RecordStages(journal, machine, plan.State, plan.Keys, plan.Cached, plan.StartKey);
        await PutRootInPlaceAsync(run, machine, plan, cancellationToken);
        return plan;
    }

    /// <summary>The machine's recorded state, made anew when its definition changed (what was made of it goes first).</summary>
    private async Task<MachineState> MachineStateAsync(LabRun run, MachineDefinition machine, CancellationToken cancellationToken)
    {
        var (lab, pool, journal, image) = (run.Lab, run.Pool, run.Journal, run.ImagePaths[machine.Image]);
        var config = UpPlanner.ConfigHash(lab, machine, image);
        var known = journal.Machine(machine.Name);
        if (known is not null && known.Config != config)
        {
            progress.Machine(machine.Name, new MachineStep.Recreating());
            await RemoveMachineAsync(journal, pool, known, cancellationToken);
            known = null;
        }
        var state = known ?? NewMachineState(lab, machine, image, pool, config);
        journal.Update(s =>
        {
            s.Machines[machine.Name] = state;
            state.Groups = [.. machine.Groups];
            state.Vars = (System.Text.Json.Nodes.JsonObject)machine.Vars.DeepClone();
            if (machine.Kind == MachineKind.Vm)
                state.QemuArguments = QemuArguments.For(machine, state, HostNames.MachineUnitName(lab.Name, machine.Name), run.Accel, image);
            else
                state.NspawnArguments = [.. NspawnArguments.For(machine, HostNames.MachineUnitName(lab.Name, machine.Name), state.Root, state.Namespace,
                    host.HasSystemdAsInit, state.PrivateUsers, bind => pool.MachineRoot(lab.Name, bind))];
        });
        return state;
    }

    /// <summary>The machine's stages as this run sees them: cached (keeping when they ran) up to the plan's prefix, pending after.</summary>
    internal static void RecordStages(StateJournal journal, MachineDefinition machine, MachineState state, IReadOnlyList<string> keys, int cached, string startKey)
    {
        journal.Update(_ =>
        {
            var previous = state.Stages.ToDictionary(r => r.Key, StringComparer.Ordinal);
            state.BaseKey = startKey;
            state.Stages = [.. machine.Stages.Select((stage, i) =>
                i < cached && previous.TryGetValue(keys[i], out var old)
                    ? new StageRecord { Name = stage.Name, Key = keys[i], Status = StageStatus.Cached, StartedAt = old.StartedAt, EndedAt = old.EndedAt, SnapshotAt = old.SnapshotAt, Checks = [.. stage.Checks], After = [.. Dependencies(machine, i)] }
                    : new StageRecord { Name = stage.Name, Key = keys[i], Status = i < cached ? StageStatus.Cached : StageStatus.Pending, Checks = [.. stage.Checks], After = [.. Dependencies(machine, i)] })];
        });
    }

    /// <summary>
    /// The root as the plan wants it: kept when it is there already, otherwise restored from the last cached stage, or
    /// cloned from the image and made this machine's. The fresh root (image, machine-id, hostname, network files) is
    /// kept as a snapshot of its own, under the start key, so that going back before the first stage is a restore like
    /// any other.
    /// </summary>
    private async Task PutRootInPlaceAsync(LabRun run, MachineDefinition machine, MachinePlan plan, CancellationToken cancellationToken)
    {
        var (journal, state, snapshots, cached) = (run.Journal, plan.State, plan.Snapshots, plan.Cached);
        var target = cached == 0 ? plan.StartKey : plan.Keys[cached - 1];
        var root = new HostObject(HostObjectKind.Root, state.Root);
        var rootExists = journal.Has(root) && Directory.Exists(state.Root);
        if (rootExists && state.RootAt == target)
            return;

        progress.Machine(machine.Name, !rootExists ? new MachineStep.Cloning() : new MachineStep.Restoring(cached == 0 ? null : machine.Stages[cached - 1].Name));
        if (rootExists)
            await StopMachineAsync(journal, state, cancellationToken, discardingRoot: true);
        journal.Update(_ => state.RootAt = null);
        journal.Record(root);
        if (cached == 0 && !snapshots.Exists(plan.StartKey) && !machine.HasImage)
        {
            // A network-booted VM starts from an empty disk of its size.
            await run.Pool.Driver.CreateAsync(state.Root, cancellationToken);
            await using (var disk = File.Create(Path.Combine(state.Root, QemuArguments.DiskFile)))
                disk.SetLength(machine.Vm!.DiskBytes);
            await snapshots.CreateAsync(state.Root, plan.StartKey, cancellationToken);
        }
        else if (cached == 0 && !snapshots.Exists(plan.StartKey) && machine.Kind == MachineKind.Vm)
        {
            await MakeVmDiskAsync(run, machine, state, cancellationToken);
            await snapshots.CreateAsync(state.Root, plan.StartKey, cancellationToken);
        }
        else if (cached == 0 && !snapshots.Exists(plan.StartKey))
        {
            await snapshots.RestoreAsync(run.ImagePaths[machine.Image], state.Root, cancellationToken);
            MachineRootFiles.Write(state.Root, machine, run.Lab);
            if (machine.RootPasswordFile is { } passwordFile)
                await MachineRootFiles.SetRootPasswordAsync(host.Shell, state.Root, passwordFile, cancellationToken);
            await snapshots.CreateAsync(state.Root, plan.StartKey, cancellationToken);
        }
        else
        {
            await snapshots.RestoreAsync(snapshots.PathOf(target), state.Root, cancellationToken);
        }
        journal.Update(_ => state.RootAt = target);
    }

    /// <summary>What a stage waits for, as recorded for lab-wide rollback: the machine's own `after:` for its first stage.</summary>
    private static IEnumerable<string> Dependencies(MachineDefinition machine, int index) =>
        (index == 0 ? machine.After : []).Concat(machine.Stages[index].After).Select(r => r.ToString());

    private Task RunStageAsync(LabRun run, MachinePlan plan, StageRunner runner, MachineSession session, int index, CancellationToken cancellationToken)
    {
        var (lab, state) = (run.Lab, plan.State);
        var stage = lab.Machines[state.Name].Stages[index];
        var log = StageLog(lab.Name, state.Name, index, stage.Name);
        return run.RunStageAsync(state, plan.Keys, index, log, progress,
            async () =>
            {
                var context = new StageContext(lab, state.Name, state.Root, session)
                {
                    Ansible = stage.Ansible is null ? null : await AnsibleInventoryAsync(run, state.Name, cancellationToken),
                };
                return await runner.RunAsync(context, stage, log, cancellationToken);
            },
            async () =>
            {
                await session.SettleAsync(cancellationToken);
                await plan.Snapshots.CreateAsync(state.Root, plan.Keys[index], cancellationToken);
            });
    }

    /// <summary>A machine that takes DHCP leases is ready once each of those interfaces has an address.</summary>
    private async Task WaitForLeasesAsync(MachineState state, CancellationToken cancellationToken)
    {
        // A VM's leases are its own business: no namespace of it is seen from the host.
        var leased = state.Interfaces.Where(i => i.Dhcp && state.Kind == MachineKind.Container).ToList();
        if (leased.Count > 0)
            progress.Machine(state.Name, new MachineStep.Leasing());
        foreach (var iface in leased)
        {
            if (!await Poll.UntilAsync(async token => await _ip.NamespaceAddressAsync(state.Namespace, iface.Name, token) is not null,
                    options.BootTimeout, TimeSpan.FromMilliseconds(100), cancellationToken))
            {
                throw new SpawnlabException(
                    $"machine {state.Name} got no DHCP lease on {iface.Name} within {options.BootTimeout.TotalSeconds:0} s: is a DHCP server on network {iface.Network} (the host with 'dhcp: true', or a machine this one waits for with 'after:')?");
            }
        }
    }

    public string StageLog(string lab, string machine, int index, string stage) => Store.StageLog(lab, machine, index, stage);

    /// <summary>Boots the machine unless it runs already, and waits until it is ready.</summary>
    private Task<MachineSession> BootAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken) =>
        runtime.BootAsync(new MachineBoot(journal, state, options.BootTimeout,
            (leader, token) => WireAsync(journal, state, leader, token),
            step => progress.Machine(state.Name, step)), cancellationToken);

    /// <summary>Stops a machine; with <paramref name="discardingRoot"/> it is killed at once, since its root goes anyway.</summary>
    private async Task StopMachineAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken, bool discardingRoot = false)
    {
        if (state.Process is { } process)
        {
            if (_ownership.MachineProcessRefusal(journal.State, state, process) is { } refusal)
                throw new SpawnlabException($"refusing to stop machine {state.Name}: {refusal}");
            await runtime.StopAsync(process, discardingRoot ? TimeSpan.Zero : options.StopTimeout, cancellationToken);
        }
        journal.Update(_ =>
        {
            state.Pid = null;
            state.StartTicks = null;
        });
    }

    private MachineState NewMachineState(LabDefinition lab, MachineDefinition machine, string image, StoragePool pool, string config)
    {
        var vm = machine.Kind == MachineKind.Vm;
        var privateUsers = !vm && machine.PrivateUsers && host.UserNamespacesUnavailable is null;
        return new()
        {
            Name = machine.Name,
            Image = image,
            Config = config,
            Root = pool.MachineRoot(lab.Name, machine.Name),
            Namespace = HostNames.Namespace(lab.Name, machine.Name),
            Forward = machine.Forward,
            PrivateUsers = privateUsers,
            // A machine's processes are killed by its cgroup, whatever nspawn's fate: every container gets cgroups of
            // its own (on a systemd host, those of a scope unit of its own).
            Cgroups = !vm ? [.. host.Cgroups.For(lab.Name, machine.Name)] : [],
            Kind = machine.Kind,
            ConsoleLog = vm ? Path.Combine(Store.LogDirectory(lab.Name), $"{machine.Name}.console.log") : null,
            ConsoleSocket = vm ? Path.Combine(Store.LabDirectory(lab.Name), $"{machine.Name}.console") : null,
            AgentSocket = machine.Vm?.Boot == VmBoot.Image ? Path.Combine(Store.LabDirectory(lab.Name), $"{machine.Name}.agent") : null,
            LogFile = Path.Combine(Store.LogDirectory(lab.Name), $"{machine.Name}.boot.log"),
            Interfaces = machine.Interfaces.Select(i => new InterfaceState
            {
                Network = i.Network,
                Name = i.Network,
                HostVeth = HostNames.HostVeth(lab.Name, machine.Name, i.Network),
                Mac = HostNames.Mac(lab.Name, machine.Name, i.Network),
                Address = i.Dhcp ? null : i.Cidr,
                Gateway = i.Gateway?.ToString(),
                Dhcp = i.Dhcp,
                FixedLease = i.Dhcp ? i.Address?.ToString() : null,
            }).ToList(),
        };
    }
}
