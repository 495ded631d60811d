using Spawnlab.Labs;

namespace Spawnlab.Machines;

/// <summary>The systemd-nspawn command line that boots one machine.</summary>
public static class NspawnArguments
{
    /// <summary>
    /// With <paramref name="privateUsers"/>, the machine gets a user namespace of its own (its root is an unprivileged
    /// range of uids on the host, and the root keeps its ownership on disk through an ID-mapped mount) and nspawn makes
    /// its network namespace, which must belong to that user namespace for root inside to manage it; Spawnlab attaches it
    /// as <paramref name="networkNamespace"/> and wires it once the machine exists. Without, the machine joins the
    /// network namespace Spawnlab made and wired beforehand.
    /// </summary>
    public static IReadOnlyList<string> For(
        MachineDefinition machine, string unitName, string root, string networkNamespace, bool hostHasSystemd, bool privateUsers,
        Func<string, string>? machineRoot = null)
    {
        var arguments = new List<string>
        {
            "--quiet",
            "--boot",
            $"--directory={root}",
            $"--machine={unitName}",
            $"--hostname={machine.Name}",
            // The machine's resolver is the lab's (written into its root), never the host's.
            "--resolv-conf=off",
            // Not a TTY: the boot log goes to the machine's log file.
            "--console=read-only",
        };
        if (privateUsers)
        {
            arguments.AddRange(["--private-users=pick", "--private-users-ownership=map", "--private-network"]);
        }
        else
        {
            arguments.Add($"--network-namespace-path={Host.IpTool.NamespacePath(networkNamespace)}");
            // nspawn grants CAP_NET_ADMIN only with its own network options; the namespace is the machine's own, so
            // networkd, DHCP and routing inside may manage it.
            arguments.Add("--capability=CAP_NET_ADMIN");
        }
        // A machine runs in the cgroup it is started in (its own, or on a systemd host its own scope), so nspawn keeps
        // it. Without systemd as PID 1 there is no machined to register with; with it, the machine is registered, so
        // that machinectl, systemctl -M and journalctl -M reach it.
        arguments.AddRange([hostHasSystemd ? "--register=yes" : "--register=no", "--keep-unit"]);
        foreach (var bind in machine.Binds)
        {
            var source = bind.Machine is { } other
                ? (machineRoot ?? throw new ArgumentNullException(nameof(machineRoot)))(other)
                : bind.HostPath;
            // ID-mapped, a bound folder shows its owners inside as they are on the host (root as the machine's root).
            arguments.Add($"{(bind.ReadOnly ? "--bind-ro" : "--bind")}={Escape(source)}:{Escape(bind.MachinePath)}{(privateUsers ? ":idmap" : "")}");
        }
        foreach (var path in machine.Tmpfs)
            arguments.Add($"--tmpfs={Escape(path)}");
        if (machine.ReadOnlyRoot)
            arguments.Add("--read-only");
        return arguments;
    }

    // systemd-nspawn separates source and target with ':' and takes '\:' for a literal one.
    private static string Escape(string path) => path.Replace(":", "\\:", StringComparison.Ordinal);

}
