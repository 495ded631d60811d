using System.Globalization;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>
    /// kvm or tcg for the lab's VMs (tcg when it has none), said once. Booting a kernel tells whether KVM works: one of
    /// the lab's images', else of another image of the pool.
    /// </summary>
    private async Task<string> ChooseAccelAsync(LabDefinition lab, IReadOnlyDictionary<string, string> imagePaths, StoragePool pool, CancellationToken cancellationToken)
    {
        if (lab.Machines.Values.All(m => m.Kind != MachineKind.Vm))
            return "tcg";
        var kernels = lab.Machines.Values.Where(m => m.HasImage).Select(m => imagePaths[m.Image]).Distinct()
            .Concat(Directory.EnumerateDirectories(pool.ImagesDirectory).Where(d => !Leftovers.IsLeftover(d)))
            .Select(QemuArguments.Kernel).OfType<(string Kernel, string Initrd)>().Select(k => k.Kernel);
        var (accel, why) = await new VmAccel(host.Shell, options.StateDirectory).ChooseAsync(kernels, cancellationToken);
        progress.Report($"VMs run under {accel.ToUpperInvariant()}: {why}");
        return accel;
    }

    /// <summary>
    /// An image-booted VM's fresh disk: the image cloned aside, made this machine's (hostname, machine-id, hosts, and
    /// systemd-networkd naming each NIC after its network with its address), then written into an ext4 disk file of
    /// the machine's size by mkfs.ext4 -d (no loop device, no mount); the clone goes.
    /// </summary>
    private async Task MakeVmDiskAsync(LabRun run, MachineDefinition machine, MachineState state, CancellationToken cancellationToken)
    {
        var pool = run.Pool;
        Directory.CreateDirectory(Path.GetDirectoryName(state.Root)!);
        var staging = Leftovers.Temporary(Path.GetDirectoryName(state.Root)!, $"{machine.Name}-{Environment.ProcessId}");
        run.Journal.Record(new HostObject(HostObjectKind.Root, staging));
        await pool.DeleteAsync(staging, cancellationToken);
        try
        {
            await pool.Driver.CloneAsync(run.ImagePaths[machine.Image], staging, readOnly: false, cancellationToken);
            MachineRootFiles.Write(staging, machine, run.Lab);
            MachineRootFiles.WriteVmNetwork(staging, machine, run.Lab);
            if (machine.RootPasswordFile is { } passwordFile)
                await MachineRootFiles.SetRootPasswordAsync(host.Shell, staging, passwordFile, cancellationToken);
            await pool.Driver.CreateAsync(state.Root, cancellationToken);
            await host.Shell.RunAsync(HostCommand.Of("mkfs.ext4", "-q", "-F", "-L", "root", "-d", staging,
                Path.Combine(state.Root, QemuArguments.DiskFile), (machine.Vm!.DiskBytes / 1024).ToString(CultureInfo.InvariantCulture) + "k"), cancellationToken);
        }
        finally
        {
            await pool.DeleteAsync(staging, CancellationToken.None);
            run.Journal.Forget(new HostObject(HostObjectKind.Root, staging));
        }
    }
}
