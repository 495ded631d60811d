using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Networks;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>Runs the network's dnsmasq, restarting it when its configuration changed; it is a recorded process of the lab.</summary>
    private async Task EnsureDnsmasqAsync(LabDefinition lab, NetworkDefinition network, StateJournal journal, CancellationToken cancellationToken)
    {
        var directory = Store.LabDirectory(lab.Name);
        var confFile = Path.Combine(directory, $"dnsmasq-{network.Name}.conf");
        var hostsFile = Path.Combine(directory, "hosts");
        var config = DnsmasqConfig.For(lab, network, HostNames.Bridge(lab.Name, network.Name), Path.Combine(directory, $"dnsmasq-{network.Name}.leases"), hostsFile);
        await File.WriteAllTextAsync(hostsFile, DnsmasqConfig.Hosts(lab), cancellationToken);
        var state = journal.State.Networks[network.Name];
        var running = host.Processes.IsRunning(state.Dnsmasq) ? state.Dnsmasq : null;
        if (running is not null && File.Exists(confFile) && await File.ReadAllTextAsync(confFile, cancellationToken) == config)
            return;
        if (running is not null)
        {
            host.Processes.Signal(running, HostProcess.SigTerm);
            await host.Processes.WaitForExitAsync(running, TimeSpan.FromSeconds(5), cancellationToken);
        }
        await File.WriteAllTextAsync(confFile, config, cancellationToken);
        var started = await host.Processes.StartDetachedAsync("dnsmasq", ["--keep-in-foreground", $"--conf-file={confFile}", "--log-facility=-"],
            Path.Combine(Store.LogDirectory(lab.Name), $"dnsmasq-{network.Name}.log"), cancellationToken);
        journal.Record(new HostObject(HostObjectKind.Process, started.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)) { StartTicks = started.StartTicks });
        journal.Update(_ => state.Dnsmasq = started);
        progress.Report($"dnsmasq serves DHCP and DNS on network {network.Name} (pid {started.Pid})");
    }

    private async Task UpNetworksAsync(LabDefinition lab, StateJournal journal, string? uplinkOverride, CancellationToken cancellationToken)
    {
        var uplinks = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var network in lab.Networks.Values)
        {
            var bridge = HostNames.Bridge(lab.Name, network.Name);
            string? uplink = null;
            if (network.Nat)
            {
                uplink = uplinkOverride ?? network.Uplink ?? await _ip.DefaultRouteInterfaceAsync(cancellationToken)
                    ?? throw new SpawnlabException($"network '{network.Name}' asks for NAT but the host has no default route; set 'uplink:' to the interface to masquerade towards");
                uplinks[network.Name] = uplink;
            }
            var hostCidr = network.Host is { } host ? $"{host}/{network.Subnet.PrefixLength}" : null;
            journal.Update(s => s.Networks[network.Name] = new NetworkState
            {
                Name = network.Name,
                Bridge = bridge,
                Subnet = network.Subnet.ToString(),
                HostAddress = hostCidr,
                Nat = network.Nat,
                Uplink = uplink,
                Dhcp = network.Dhcp,
                Dnsmasq = s.Networks.GetValueOrDefault(network.Name)?.Dnsmasq,
            });
            var obj = new HostObject(HostObjectKind.Bridge, bridge);
            if (journal.Has(obj) && await _ip.LinkExistsAsync(bridge, cancellationToken))
                continue;
            if (!journal.Has(obj) && await _ip.LinkExistsAsync(bridge, cancellationToken))
                throw new SpawnlabException(StateJournal.LeftBehind(lab.Name, $"interface {bridge}"));
            journal.Record(obj);
            await _ip.CreateBridgeAsync(bridge, HostNames.BridgeMac(lab.Name, network.Name), hostCidr, cancellationToken);
        }
        foreach (var network in lab.Networks.Values.Where(n => n.Dhcp))
            await EnsureDnsmasqAsync(lab, network, journal, cancellationToken);
        var table = HostNames.NftTable(lab.Name);
        if (uplinks.Count > 0)
            await host.Sysctls.WriteAsync("net.ipv4.ip_forward", "1", cancellationToken);
        if (lab.Networks.Count > 0)
        {
            journal.Record(new HostObject(HostObjectKind.NftTable, table));
            await _nft.ApplyAsync(table, [.. lab.Networks.Values.Select(n => new FirewallNetwork(
                HostNames.Bridge(lab.Name, n.Name), HostNames.BridgeMac(lab.Name, n.Name), n.Subnet.ToString(), n.Host?.ToString(),
                uplinks.GetValueOrDefault(n.Name), n.HostAccess))], cancellationToken);
        }
    }

    /// <summary>
    /// Puts the machine's network namespace in place with one veth pair per network: made by Spawnlab before the
    /// machine boots (once; it outlives restarts), or, given the machine's PID 1, the one nspawn made with the
    /// machine, named by attaching it (at each boot; the previous boot's namespace goes first, with its veths).
    /// </summary>
    private async Task WireAsync(StateJournal journal, MachineState state, int? leader, CancellationToken cancellationToken)
    {
        var netns = new HostObject(HostObjectKind.NetworkNamespace, state.Namespace);
        var exists = host.NetworkNamespaceExists(state.Namespace);
        if (exists && !journal.Has(netns))
            throw new SpawnlabException(StateJournal.LeftBehind(journal.State.Lab, $"network namespace {state.Namespace}"));
        if (exists && leader is null)
            return;
        if (exists)
        {
            // Deleted one by one, the veths are gone at once; with their namespace only, they go some time later.
            foreach (var iface in state.Interfaces)
            {
                if (Ownership.VethRefusal(journal.State, state, iface) is { } refusal)
                    throw new SpawnlabException($"refusing to remove interface {iface.HostVeth}: {refusal}");
                await _ip.DeleteLinkAsync(iface.HostVeth, cancellationToken);
            }
            await _ip.DeleteNamespaceAsync(state.Namespace, cancellationToken);
        }
        journal.Record(netns);
        progress.Machine(state.Name, new MachineStep.Wiring());
        await _ip.WireNamespaceAsync(state.Namespace, leader, [.. state.Interfaces.Select(i =>
            new Veth(i.HostVeth, journal.State.Networks[i.Network].Bridge, i.Name, i.Mac, i.Address, i.Gateway))], cancellationToken);
        if (state.Forward)
            await _ip.EnableForwardingAsync(state.Namespace, cancellationToken);
    }
}
