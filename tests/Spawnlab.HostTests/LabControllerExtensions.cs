using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spawnlab.State;

namespace Spawnlab.HostTests;

internal static class LabControllerExtensions
{
    /// <summary>Brings the lab up and fails the test with the reasons if any machine did not come up.</summary>
    public static async Task<LabState> UpCleanlyAsync(this LabController controller, LabDefinition lab, UpOptions? options = null)
    {
        var result = await controller.UpAsync(lab, options ?? new UpOptions(), CancellationToken.None);
        Assert.True(result.Failures.Count == 0, string.Join(Environment.NewLine, result.Failures));
        return result.State;
    }

    /// <summary>Takes the lab down if it is up: the end of every host test that brought one up.</summary>
    public static async Task DownIfUpAsync(this LabController controller, string lab)
    {
        if (controller.Store.Load(lab) is not null)
            await controller.DownAsync(lab, purgeImages: false, CancellationToken.None);
    }
}

internal static class MachineShell
{
    /// <summary>Runs a command inside a machine of a lab and returns its standard output; fails the test if it fails.</summary>
    public static async Task<string> InsideAsync(this LabController controller, string lab, string machine, params string[] command)
    {
        var (labState, machineState) = controller.FindMachine($"{lab}/{machine}");
        var result = await new Spawnlab.Host.CliWrapShell().RunAsync(
            controller.SessionOf(labState, machineState).Enter(command).WithoutThrowing(), CancellationToken.None);
        Assert.True(result.Succeeded, $"`{string.Join(' ', command)}` in {lab}/{machine} exited {result.ExitCode}: {result.StandardError}");
        return result.StandardOutput;
    }
}
