using Spawnlab.Labs;

namespace Spawnlab.Machines;

/// <summary>The systemd-nspawn command line that boots one machine.</summary>
public static class NspawnArguments
{
    public static IReadOnlyList<string> For(
        MachineDefinition machine, string unitName, string root, string networkNamespace, bool hostHasSystemd, Func<string, string>? machineRoot = null)
    {
        var arguments = new List<string>
        {
            "--quiet",
            "--boot",
            $"--directory={root}",
            $"--machine={unitName}",
            $"--hostname={machine.Name}",
            $"--network-namespace-path=/run/netns/{networkNamespace}",
            // nspawn grants CAP_NET_ADMIN only with its own network options; the namespace is the machine's own, so
            // networkd, DHCP and routing inside may manage it.
            "--capability=CAP_NET_ADMIN",
            // The machine's resolver is the lab's (written into its root), never the host's.
            "--resolv-conf=off",
            // Not a TTY: the boot log goes to the machine's log file.
            "--console=read-only",
        };
        // Without systemd as PID 1 there is no machined to register with; --keep-unit stops nspawn asking PID 1 over D-Bus.
        if (!hostHasSystemd)
            arguments.AddRange(["--register=no", "--keep-unit"]);
        foreach (var bind in machine.Binds)
        {
            var source = bind.Machine is { } other
                ? (machineRoot ?? throw new ArgumentNullException(nameof(machineRoot)))(other)
                : bind.HostPath;
            arguments.Add($"{(bind.ReadOnly ? "--bind-ro" : "--bind")}={Escape(source)}:{Escape(bind.MachinePath)}");
        }
        foreach (var path in machine.Tmpfs)
            arguments.Add($"--tmpfs={Escape(path)}");
        if (machine.ReadOnlyRoot)
            arguments.Add("--read-only");
        return arguments;
    }

    // systemd-nspawn separates source and target with ':' and takes '\:' for a literal one.
    private static string Escape(string path) => path.Replace(":", "\\:", StringComparison.Ordinal);

    public static bool HostHasSystemd()
    {
        try
        {
            return File.ReadAllText("/proc/1/comm").Trim() == "systemd" && Directory.Exists("/run/systemd/system");
        }
        catch (IOException)
        {
            return false;
        }
    }
}
