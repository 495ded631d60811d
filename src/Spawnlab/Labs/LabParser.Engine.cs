using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private sealed partial class Builder
    {
        /// <summary>The lab's engine and, for LXD, its daemon and project; null when what was written is wrong (reported).</summary>
        private (LabEngine Engine, LxdSettings? Lxd)? Engine(Dictionary<string, YamlNode> fields)
        {
            var engine = LabEngine.Nspawn;
            if (fields.TryGetValue("engine", out var engineNode))
            {
                switch (reader.String(engineNode, "engine"))
                {
                    case "nspawn":
                        break;
                    case "lxd":
                        engine = LabEngine.Lxd;
                        break;
                    case { } other:
                        reader.Error(engineNode, $"engine '{other}': expected nspawn or lxd");
                        return null;
                    default:
                        return null;
                }
            }
            if (!fields.TryGetValue("lxd", out var lxdNode))
                return (engine, engine == LabEngine.Lxd ? new LxdSettings(null, null) : null);
            if (engine != LabEngine.Lxd)
            {
                reader.Error(lxdNode, "lxd: only with 'engine: lxd'");
                return null;
            }
            if (reader.Mapping(lxdNode, "lxd") is not { } body)
                return null;
            var lxd = reader.Fields(body, "lxd", LabSchema.Lxd.Keys);
            var ok = true;
            var remote = lxd.TryGetValue("remote", out var remoteNode) ? reader.String(remoteNode, "lxd remote") : null;
            if (remote is not null && remote.Contains("://", StringComparison.Ordinal) && !remote.StartsWith("unix:///", StringComparison.Ordinal))
            {
                reader.Error(remoteNode!, $"lxd remote '{remote}': expected the daemon's unix socket (/PATH or unix:///PATH) or the name of an lxc remote; add an HTTPS daemon with `lxc remote add NAME {remote}` and name it here");
                ok = false;
            }
            else if (remote is not null && !remote.StartsWith('/') && !remote.StartsWith("unix:///", StringComparison.Ordinal) && !RemoteName().IsMatch(remote))
            {
                reader.Error(remoteNode!, $"lxd remote '{remote}': expected the daemon's unix socket (/PATH or unix:///PATH) or the name of an lxc remote (`lxc remote list`)");
                ok = false;
            }
            var project = lxd.TryGetValue("project", out var projectNode) ? reader.String(projectNode, "lxd project") : null;
            if (project is not null && !LabName().IsMatch(project))
            {
                reader.Error(projectNode!, $"lxd project '{project}': expected a lowercase letter followed by lowercase letters, digits or '-'");
                ok = false;
            }
            return ok ? (engine, new LxdSettings(remote, project)) : null;
        }

        [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*\\z")]
        private static partial System.Text.RegularExpressions.Regex RemoteName();

        /// <summary>What the LXD engine does not run (yet), each reported where the lab file says it.</summary>
        private void CheckLxdLimits(YamlNode engineNode, IReadOnlyDictionary<string, NetworkDefinition> networks, IReadOnlyDictionary<string, MachineDefinition> machines)
        {
            void Refuse(string what) => reader.Error(engineNode, $"engine lxd: {what}");
            foreach (var network in networks.Values)
            {
                if (network.Tftp is not null)
                    Refuse($"network {network.Name}: 'tftp' is not supported on LXD (no host dnsmasq serves it)");
                if (network.Uplink is not null)
                    Refuse($"network {network.Name}: 'uplink' is not supported on LXD (LXD's NAT goes out of the host's default route)");
                if (network.HostAccess != HostAccess.All)
                    Refuse($"network {network.Name}: 'host_access' is not supported on LXD");
            }
            foreach (var machine in machines.Values)
            {
                if (machine.Kind == MachineKind.Vm)
                    Refuse($"machine {machine.Name}: VMs are not supported on LXD by Spawnlab yet (use the nspawn engine)");
                if (machine.ReadOnlyRoot)
                    Refuse($"machine {machine.Name}: 'read_only' is not supported on LXD");
                foreach (var bind in machine.Binds.Where(b => b.Machine is not null))
                    reader.Error(bind.Line, bind.Column, $"engine lxd: machine {machine.Name}: a bind of another machine's root (@{bind.Machine}) is not supported on LXD (instances may live on other members)");
            }
        }
    }
}
