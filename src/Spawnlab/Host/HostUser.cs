using Spawnlab.Host.Interop;

namespace Spawnlab.Host;

public static class HostUser
{
    public static bool IsRoot => Libc.Geteuid() == 0;

    public static void RequireRoot(string what)
    {
        if (!IsRoot)
            throw new SpawnlabException($"{what} needs root: it creates bridges, namespaces, mounts and containers; run it with sudo");
    }
}
