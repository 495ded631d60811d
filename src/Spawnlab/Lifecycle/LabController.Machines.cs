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
        var (lab, pool, journal, image) = (run.Lab, run.Pool, run.Journal, run.ImagePaths[machine.Image]);
        var config = UpPlanner.ConfigHash(lab, machine, image);
        var known = journal.State.Machines.GetValueOrDefault(machine.Name);
        if (known is not null && known.Config != config)
        {
            progress.Machine(machine.Name, "definition changed: recreating");
            await RemoveMachineAsync(journal, pool, known, cancellationToken);
            known = null;
        }
        var state = known ?? NewMachineState(lab, machine, image, pool, config);
        journal.Update(s =>
        {
            s.Machines[machine.Name] = state;
            state.NspawnArguments = [.. NspawnArguments.For(machine, HostNames.MachineUnitName(lab.Name, machine.Name), state.Root, state.Namespace,
                host.HasSystemdAsInit, state.PrivateUsers, bind => pool.MachineRoot(lab.Name, bind))];
        });
        // A machine with a user namespace is wired at each boot, in the network namespace nspawn makes for it.
        if (!state.PrivateUsers)
            await WireAsync(journal, state, leader: null, cancellationToken);

        // The longest prefix of stages whose snapshots exist is kept; the rest runs again.
        var keys = run.Keys[machine.Name];
        var startKey = StageKeys.Start(lab, machine.Name, run.BaseKeys[machine.Name], run.Keys);
        var snapshots = new SnapshotStore(pool, journal, lab.Name, machine.Name);
        var cached = UpPlanner.CachedPrefix(machine, keys, snapshots.Exists, run.Options);
        var target = cached == 0 ? startKey : keys[cached - 1];

        journal.Update(_ =>
        {
            var previous = state.Stages.ToDictionary(r => r.Key, StringComparer.Ordinal);
            state.BaseKey = startKey;
            state.Stages = [.. machine.Stages.Select((stage, i) =>
                i < cached && previous.TryGetValue(keys[i], out var old)
                    ? new StageRecord { Name = stage.Name, Key = keys[i], Status = StageStatus.Cached, StartedAt = old.StartedAt, EndedAt = old.EndedAt, SnapshotAt = old.SnapshotAt, Checks = [.. stage.Checks], After = [.. Dependencies(machine, i)] }
                    : new StageRecord { Name = stage.Name, Key = keys[i], Status = i < cached ? StageStatus.Cached : StageStatus.Pending, Checks = [.. stage.Checks], After = [.. Dependencies(machine, i)] })];
        });

        // The fresh root (image, machine-id, hostname, network files) is kept as a snapshot of its own, under the
        // start key, so that going back before the first stage is a restore like any other.
        var root = new HostObject(HostObjectKind.Root, state.Root);
        var rootExists = journal.State.Has(root) && Directory.Exists(state.Root);
        if (rootExists && state.RootAt == target)
            return new MachinePlan(state, keys, cached, snapshots, startKey);

        progress.Machine(machine.Name, !rootExists ? "cloning" : cached == 0 ? "restoring the fresh root" : $"restoring stage {machine.Stages[cached - 1].Name}");
        if (rootExists)
            await StopMachineAsync(journal, state, cancellationToken, discardingRoot: true);
        journal.Update(_ => state.RootAt = null);
        journal.Record(root);
        if (cached == 0 && !snapshots.Exists(startKey))
        {
            await snapshots.RestoreAsync(image, state.Root, cancellationToken);
            PersonalizeRoot(state.Root, machine, lab);
            if (machine.RootPasswordFile is { } passwordFile)
                await SetRootPasswordAsync(state.Root, passwordFile, cancellationToken);
            await snapshots.CreateAsync(state.Root, startKey, cancellationToken);
        }
        else
        {
            await snapshots.RestoreAsync(snapshots.PathOf(target), state.Root, cancellationToken);
        }
        journal.Update(_ => state.RootAt = target);
        return new MachinePlan(state, keys, cached, snapshots, startKey);
    }

    /// <summary>What a stage waits for, as recorded for lab-wide rollback: the machine's own `after:` for its first stage.</summary>
    private static IEnumerable<string> Dependencies(MachineDefinition machine, int index) =>
        (index == 0 ? machine.After : []).Concat(machine.Stages[index].After).Select(r => r.ToString());

    private async Task RunStageAsync(LabRun run, MachinePlan plan, StageRunner runner, MachineSession session, int index, CancellationToken cancellationToken)
    {
        var (lab, journal, state) = (run.Lab, run.Journal, plan.State);
        var machine = lab.Machines[state.Name];
        var stage = machine.Stages[index];
        var record = state.Stages[index];
        var log = StageLog(lab.Name, machine.Name, index, stage.Name);
        progress.Machine(machine.Name, $"stage {stage.Name} ({index + 1}/{plan.Keys.Count})");
        journal.Update(_ =>
        {
            state.RootAt = null;
            record.StartedAt = DateTimeOffset.UtcNow;
            record.EndedAt = null;
        });
        IReadOnlyList<CheckResult> results;
        try
        {
            results = await runner.RunAsync(new StageContext(lab, machine.Name, state.Root, session), stage, log, cancellationToken);
        }
        catch (Exception e) when (e is SpawnlabException or OperationCanceledException)
        {
            journal.Update(_ =>
            {
                record.Status = StageStatus.Failed;
                record.EndedAt = DateTimeOffset.UtcNow;
            });
            run.Skip(machine, index, new SkipReason.StageFailed(stage.Name));
            throw;
        }
        run.AddChecks(results);
        if (results.FirstOrDefault(r => r.Outcome == CheckOutcome.Failed) is { } failed)
        {
            journal.Update(_ =>
            {
                record.Status = StageStatus.Failed;
                record.EndedAt = DateTimeOffset.UtcNow;
            });
            run.Skip(machine, index + 1, new SkipReason.StageFailed(stage.Name));
            throw new StageFailedException(machine.Name, stage.Name, $"check '{failed.Name}'",
                $"{failed.Message}{Environment.NewLine}the stage's log ({log}) ends with:{Environment.NewLine}{CappedLog.Tail(log)}");
        }
        await plan.Snapshots.CreateAsync(state.Root, plan.Keys[index], cancellationToken);
        journal.Update(_ =>
        {
            record.Status = StageStatus.Ran;
            record.EndedAt = record.SnapshotAt = DateTimeOffset.UtcNow;
            state.RootAt = plan.Keys[index];
        });
    }

    /// <summary>A machine that takes DHCP leases is ready once each of those interfaces has an address.</summary>
    private async Task WaitForLeasesAsync(MachineState state, CancellationToken cancellationToken)
    {
        foreach (var iface in state.Interfaces.Where(i => i.Dhcp))
        {
            if (!await Poll.UntilAsync(async token => await _ip.NamespaceAddressAsync(state.Namespace, iface.Name, token) is not null,
                    options.BootTimeout, TimeSpan.FromMilliseconds(100), cancellationToken))
            {
                throw new SpawnlabException(
                    $"machine {state.Name} got no DHCP lease on {iface.Name} within {options.BootTimeout.TotalSeconds:0} s: is a DHCP server on network {iface.Network} (the host with 'dhcp: true', or a machine this one waits for with 'after:')?");
            }
        }
    }

    public string StageLog(string lab, string machine, int index, string stage) =>
        Path.Combine(Store.LogDirectory(lab), machine, $"{index + 1:00}-{stage}.log");

    /// <summary>Boots the machine unless it runs already, and waits until it is ready.</summary>
    private Task<MachineSession> BootAsync(StateJournal journal, MachineState state, CancellationToken cancellationToken) =>
        runtime.BootAsync(new MachineBoot(journal, state, options.BootTimeout,
            (leader, token) => WireAsync(journal, state, leader, token),
            message => progress.Machine(state.Name, message)), cancellationToken);

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
        var privateUsers = machine.PrivateUsers && host.UserNamespacesUnavailable is null;
        return new()
        {
            Name = machine.Name,
            Image = image,
            Config = config,
            Root = pool.MachineRoot(lab.Name, machine.Name),
            Namespace = HostNames.Namespace(lab.Name, machine.Name),
            Forward = machine.Forward,
            PrivateUsers = privateUsers,
            // A machine's processes are killed by its cgroup, whatever nspawn's fate: every machine gets cgroups of its
            // own, but one that registers with machined, which puts it in a scope of its own.
            Cgroups = privateUsers || !host.HasSystemdAsInit ? [.. host.Cgroups.For(lab.Name, machine.Name)] : [],
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

    /// <summary>
    /// A fresh machine-id, the machine's hostname and hosts file, and its resolver, written into its new root.
    /// A machine that takes DHCP leases gets systemd-networkd (matching its interfaces by MAC) and systemd-resolved
    /// for the DNS servers the lease names.
    /// </summary>
    private static void PersonalizeRoot(string root, MachineDefinition machine, LabDefinition lab)
    {
        string At(string path) => Path.Combine(root, path);
        File.WriteAllText(At("etc/machine-id"), Guid.NewGuid().ToString("N") + "\n");
        File.WriteAllText(At("etc/hostname"), machine.Name + "\n");
        var hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        // Its own name: its first static address, or 127.0.1.1 (Debian's way) when it has none.
        var own = machine.Interfaces.FirstOrDefault(i => i.Address is not null && !i.Dhcp)?.Address?.ToString() ?? "127.0.1.1";
        hosts.Append($"{own}\t{machine.Name}.{lab.Name} {machine.Name}\n");
        foreach (var other in lab.Machines.Values.Where(m => m.Name != machine.Name))
        {
            foreach (var iface in other.Interfaces.Where(i => i.Address is not null))
                hosts.Append($"{iface.Address}\t{other.Name}.{lab.Name} {other.Name}\n");
        }
        File.WriteAllText(At("etc/hosts"), hosts.ToString());

        File.Delete(At("etc/resolv.conf"));
        if (machine.UsesDhcp)
        {
            Directory.CreateDirectory(At("etc/systemd/network"));
            foreach (var iface in machine.Interfaces.Where(i => i.Dhcp))
            {
                File.WriteAllText(At($"etc/systemd/network/50-spawnlab-{iface.Network}.network"), $"""
                    # Written by Spawnlab: network {iface.Network} of lab {lab.Name}
                    [Match]
                    MACAddress={HostNames.Mac(lab.Name, machine.Name, iface.Network)}

                    [Network]
                    DHCP=ipv4
                    LinkLocalAddressing=no
                    IPv6AcceptRA=no

                    [DHCPv4]
                    UseDomains=yes

                    """);
            }
            foreach (var (link, target) in new[]
            {
                ("etc/systemd/system/multi-user.target.wants/systemd-networkd.service", "/lib/systemd/system/systemd-networkd.service"),
                ("etc/systemd/system/sockets.target.wants/systemd-networkd.socket", "/lib/systemd/system/systemd-networkd.socket"),
                ("etc/systemd/system/dbus-org.freedesktop.network1.service", "/lib/systemd/system/systemd-networkd.service"),
                ("etc/systemd/system/multi-user.target.wants/systemd-resolved.service", "/lib/systemd/system/systemd-resolved.service"),
                ("etc/systemd/system/dbus-org.freedesktop.resolve1.service", "/lib/systemd/system/systemd-resolved.service"),
                ("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"),
            })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(At(link))!);
                File.Delete(At(link));
                File.CreateSymbolicLink(At(link), target);
            }
        }
        else
        {
            // The host's DNS server of a network with 'dhcp: true' answers for the lab's names; otherwise /etc/hosts does.
            var resolvers = machine.Interfaces.Select(i => lab.Networks[i.Network]).Where(n => n.Dhcp && n.Host is not null).Select(n => n.Host!).ToList();
            File.WriteAllText(At("etc/resolv.conf"), string.Concat(resolvers.Select(r => $"nameserver {r}\n")) + (resolvers.Count > 0 ? $"search {lab.Name}\n" : ""));
        }
    }

    /// <summary>Sets root's password from the lab's file; it goes to chpasswd on stdin and is never in a command line, a log or the state.</summary>
    private async Task SetRootPasswordAsync(string root, string passwordFile, CancellationToken cancellationToken)
    {
        var password = (await File.ReadAllTextAsync(passwordFile, cancellationToken)).TrimEnd('\n', '\r');
        if (password.Length == 0 || password.Contains('\n') || password.Contains(':'))
            throw new SpawnlabException($"{passwordFile}: expected one line holding the password, without ':'");
        await host.Shell.RunAsync(HostCommand.Of("chpasswd", "--root", root).WithStandardInput($"root:{password}\n"), cancellationToken);
    }
}
