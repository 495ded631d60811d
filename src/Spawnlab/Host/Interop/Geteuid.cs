using System.Runtime.InteropServices;

namespace Spawnlab.Host.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint Geteuid();
}
