using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.HostTests;

/// <summary>The real host, as the host tests look at it behind Spawnlab's back.</summary>
internal static class Real
{
    public static LinuxHost Host { get; } = new();

    public static IProcessTable Processes => Host.Processes;

    /// <summary>The PID 1 of a running nspawn machine, as the host sees it.</summary>
    public static int LeaderOf(LabController controller, LabState lab, MachineState machine) =>
        ((NspawnSession)controller.SessionOf(lab, machine)).Leader;
}
