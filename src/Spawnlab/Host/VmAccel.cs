namespace Spawnlab.Host;

/// <summary>
/// How VMs are run: KVM where /dev/kvm can be used, TCG (emulation, several times slower) otherwise; SPAWNLAB_VM_ACCEL
/// (kvm or tcg) decides instead. A host whose /dev/kvm opens but hangs Linux guests (nested virtualization of some
/// sandboxes) needs SPAWNLAB_VM_ACCEL=tcg: this version does not boot a guest to find out.
/// </summary>
public static class VmAccel
{
    public static string Current =>
        Environment.GetEnvironmentVariable("SPAWNLAB_VM_ACCEL") is { } forced && forced is "kvm" or "tcg" ? forced
        : KvmUsable() ? "kvm" : "tcg";

    public static string Describe() => Current switch
    {
        "kvm" => Environment.GetEnvironmentVariable("SPAWNLAB_VM_ACCEL") is null
            ? "KVM (/dev/kvm; SPAWNLAB_VM_ACCEL=tcg where KVM guests hang)" : "KVM (SPAWNLAB_VM_ACCEL=kvm)",
        _ => Environment.GetEnvironmentVariable("SPAWNLAB_VM_ACCEL") is null
            ? "TCG, emulated and several times slower (/dev/kvm cannot be used here)" : "TCG, emulated (SPAWNLAB_VM_ACCEL=tcg)",
    };

    private static bool KvmUsable()
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
