using System.Runtime.InteropServices;

namespace Spawnlab.Host.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);
}
