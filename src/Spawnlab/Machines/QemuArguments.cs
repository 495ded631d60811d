using System.Globalization;
using Spawnlab.Labs;
using Spawnlab.State;

namespace Spawnlab.Machines;

/// <summary>The qemu-system-x86_64 command line of a VM: its name, memory, CPUs, disk, one virtio NIC per network on a tap, a serial console on a socket.</summary>
public static class QemuArguments
{
    public const string Program = "qemu-system-x86_64";

    public const string DiskFile = "disk.raw";

    /// <param name="accel">kvm or tcg.</param>
    /// <param name="image">The image root whose kernel and initrd an image-booted VM boots.</param>
    public static List<string> For(MachineDefinition machine, MachineState state, string unitName, string accel, string image)
    {
        var vm = machine.Vm!;
        var arguments = new List<string>
        {
            "-name", $"guest={unitName}",
            "-machine", "q35",
            // TCG's translation cache defaults to 1 GiB here; 128 MiB keeps an idle VM small at little cost in speed.
            "-accel", accel == "tcg" ? "tcg,tb-size=128" : accel,
            "-m", vm.MemoryMiB.ToString(CultureInfo.InvariantCulture),
            "-smp", vm.Cpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-display", "none", "-vga", "none",
            "-chardev", $"socket,id=console,path={state.ConsoleSocket},server=on,wait=off,logfile={state.ConsoleLog},logappend=off",
            "-serial", "chardev:console",
            "-drive", $"file={Path.Combine(state.Root, DiskFile)},format=raw,if=virtio,cache=unsafe",
        };
        if (vm.Boot == VmBoot.Image)
        {
            var (kernel, initrd) = Kernel(image) ?? throw new SpawnlabException($"image {image} has no kernel in /boot: add linux-image-amd64 to its packages");
            arguments.AddRange(["-kernel", kernel, "-initrd", initrd, "-append", "root=/dev/vda rw console=ttyS0 quiet"]);
            arguments.AddRange([
                "-chardev", $"socket,id=agent,path={state.AgentSocket},server=on,wait=off",
                "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=agent,name=org.qemu.guest_agent.0"]);
        }
        foreach (var (iface, index) in state.Interfaces.Select((i, n) => (i, n)))
        {
            arguments.AddRange(["-netdev", $"tap,id=net{index},ifname={iface.HostVeth},script=no,downscript=no"]);
            // The first NIC's ROM (iPXE, from ipxe-qemu) boots from the network.
            arguments.AddRange(["-device", $"virtio-net-pci,netdev=net{index},mac={iface.Mac}" + (index == 0 && vm.Boot == VmBoot.Network ? ",bootindex=1" : "")]);
        }
        return arguments;
    }

    /// <summary>The newest kernel of an image root and its initrd, or null.</summary>
    public static (string Kernel, string Initrd)? Kernel(string image)
    {
        var boot = Path.Combine(image, "boot");
        if (!Directory.Exists(boot))
            return null;
        foreach (var kernel in Directory.EnumerateFiles(boot, "vmlinuz-*").Order(StringComparer.Ordinal).Reverse())
        {
            var initrd = Path.Combine(boot, "initrd.img-" + Path.GetFileName(kernel)["vmlinuz-".Length..]);
            if (File.Exists(initrd))
                return (kernel, initrd);
        }
        return null;
    }

    /// <summary>The machine a QEMU process runs, from its -name guest=MACHINE.LAB, if it runs one of lab <paramref name="lab"/>.</summary>
    public static string? MachineOf(IReadOnlyList<string> arguments, string lab)
    {
        if (arguments.Count == 0 || Path.GetFileName(arguments[0]) != Program)
            return null;
        var index = arguments.ToList().IndexOf("-name");
        var name = index >= 0 && index + 1 < arguments.Count && arguments[index + 1].StartsWith("guest=", StringComparison.Ordinal) ? arguments[index + 1]["guest=".Length..] : null;
        return name is not null && name.IndexOf('.') is var dot and > 0 && name[(dot + 1)..] == lab ? name[..dot] : null;
    }
}
