using System.Text;
using Spawnlab.Lifecycle;

namespace Spawnlab.Cli;

/// <summary>A plan of `up` as `up --dry-run` prints it: one line per thing it would do.</summary>
internal static class PlanText
{
    public static string Of(UpPlan plan, string? caveat)
    {
        var text = new StringBuilder($"up of lab {plan.Lab} would (nothing was changed):\n");
        if (caveat is not null)
            text.Append($"  ({caveat})\n");
        foreach (var image in plan.ImagesToBootstrap)
            text.Append($"  bootstrap image {image}\n");
        foreach (var machine in plan.MachinesToRemove)
            text.Append($"  remove machine {machine}, no longer in the lab file\n");
        foreach (var network in plan.NetworksToRemove)
            text.Append($"  remove network {network}, no longer in the lab file\n");
        foreach (var network in plan.NetworksToCreate)
            text.Append($"  make network {network}\n");
        foreach (var machine in plan.Machines)
        {
            var root = machine.Root switch
            {
                RootAction.Clone => "clone its root from the image",
                RootAction.Recreate => "make it again (its definition changed): its root and snapshots go, a new root is cloned",
                RootAction.Restore => machine.RestoredStage is { } stage ? $"restore its root to stage {stage}" : "restore its fresh root",
                _ => "keep its root",
            };
            var cached = machine.Cached.Count > 0 ? $"; cached: {string.Join(", ", machine.Cached)}" : "";
            var run = machine.Run.Count > 0 ? $"run {string.Join(", ", machine.Run)}" : "run no stage";
            text.Append($"  machine {machine.Machine}: {root}{cached}; {run}\n");
        }
        return text.ToString();
    }
}
