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
}
