using Spawnlab.Checks;
using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>Reruns the checks of every stage that a machine has passed, without running any stage.</summary>
    public async Task<IReadOnlyList<CheckResult>> TestAsync(string? reference, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab test");
        var machines = reference is null
            ? Store.LoadAll().SelectMany(l => l.Machines.Values.Select(m => (Lab: l, Machine: m))).ToList()
            : [FindMachine(reference)];
        var runner = new CheckRunner(host.Shell);
        var results = await Task.WhenAll(machines.Select(async pair =>
        {
            var (lab, machine) = pair;
            var list = new List<CheckResult>();
            var session = runtime.SessionOf(machine);
            foreach (var stage in machine.Stages)
            {
                foreach (var check in stage.Checks)
                {
                    if (session is null)
                        list.Add(CheckResult.Skipped(lab.Lab, machine.Name, stage.Name, check, "machine is not running"));
                    else if (stage.Status is StageStatus.Pending or StageStatus.Failed)
                        list.Add(CheckResult.Skipped(lab.Lab, machine.Name, stage.Name, check, $"stage {stage.Name} is {stage.Status.ToString().ToLowerInvariant()}"));
                    else
                        list.Add(await runner.RunAsync(lab.Lab, machine.Name, stage.Name, session, check, cancellationToken));
                }
            }
            return list;
        }));
        return [.. results.SelectMany(r => r)];
    }
}
