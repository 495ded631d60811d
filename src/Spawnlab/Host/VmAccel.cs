using System.Globalization;
using System.Text.Json;

namespace Spawnlab.Host;

/// <summary>
/// How VMs are run: KVM where it works, TCG (emulation, several times slower) otherwise. "Works" is found out by
/// booting: /dev/kvm may open on hosts where a Linux guest under KVM hangs (nested virtualization in some sandboxes),
/// so a kernel is booted under KVM with no root, and KVM works if it gets as far as its panic. The answer is kept in
/// the state directory per host kernel. SPAWNLAB_VM_ACCEL (kvm or tcg) decides instead.
/// </summary>
public sealed class VmAccel(IHostShell shell, string stateDirectory)
{
    /// <summary>How long a kernel gets to reach its panic under KVM (it takes about a second where KVM works).</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(20);

    private string ProbeFile => Path.Combine(stateDirectory, "kvm.json");

    /// <summary>kvm or tcg, and why, for messages.</summary>
    /// <param name="kernels">Kernels that may be booted to find out (those of the lab's images, then of the pool's).</param>
    public async Task<(string Accel, string Why)> ChooseAsync(IEnumerable<string> kernels, CancellationToken cancellationToken)
    {
        if (Environment.GetEnvironmentVariable("SPAWNLAB_VM_ACCEL") is { } forced && forced is "kvm" or "tcg")
            return (forced, $"SPAWNLAB_VM_ACCEL={forced}");
        if (!KvmOpens())
            return ("tcg", "/dev/kvm cannot be used here");
        var hostKernel = Environment.OSVersion.Version.ToString();
        if (Known() is { } known && known.HostKernel == hostKernel)
            return known.Works ? ("kvm", known.Detail) : ("tcg", known.Detail);
        if (kernels.FirstOrDefault(File.Exists) is not { } kernel)
            return ("tcg", "KVM not tried yet: no kernel to boot under it (SPAWNLAB_VM_ACCEL=kvm uses it untried)");
        var result = await shell.RunAsync(HostCommand.Of("timeout", [((int)ProbeTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            "qemu-system-x86_64", "-accel", "kvm", "-m", "256", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-kernel", kernel, "-append", "console=ttyS0 panic=-1"]).WithStandardInput("").WithoutThrowing(), cancellationToken);
        var works = result.StandardOutput.Contains("Kernel panic", StringComparison.Ordinal) || result.StandardOutput.Contains("Unable to mount root", StringComparison.Ordinal);
        var probe = new VmAccelProbe(hostKernel, works, works
            ? $"KVM: a kernel booted under it to its panic ({Path.GetFileName(kernel)})"
            : $"TCG: a kernel under KVM did not get to its panic within {ProbeTimeout.TotalSeconds:0} s here (SPAWNLAB_VM_ACCEL=kvm forces it)");
        Directory.CreateDirectory(stateDirectory);
        await File.WriteAllTextAsync(ProbeFile, JsonSerializer.Serialize(probe, PlainJson.Default.VmAccelProbe), cancellationToken);
        return (works ? "kvm" : "tcg", probe.Detail);
    }

    /// <summary>What VMs run under here, as far as is known without booting anything.</summary>
    public string Describe() =>
        Environment.GetEnvironmentVariable("SPAWNLAB_VM_ACCEL") is { } forced && forced is "kvm" or "tcg" ? $"{forced.ToUpperInvariant()} (SPAWNLAB_VM_ACCEL={forced})"
        : !KvmOpens() ? "TCG: /dev/kvm cannot be used here"
        : Known() is { } known && known.HostKernel == Environment.OSVersion.Version.ToString() ? known.Detail
        : "KVM if a kernel boots under it (tried at the first up of a lab with VMs)";

    private VmAccelProbe? Known()
    {
        try
        {
            return File.Exists(ProbeFile) ? JsonSerializer.Deserialize(File.ReadAllText(ProbeFile), PlainJson.Default.VmAccelProbe) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool KvmOpens()
    {
        try
        {
            using var kvm = File.Open("/dev/kvm", FileMode.Open, FileAccess.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>kvm.json: whether a kernel under KVM worked on this host kernel, and what was seen.</summary>
internal sealed record VmAccelProbe(string HostKernel, bool Works, string Detail);
