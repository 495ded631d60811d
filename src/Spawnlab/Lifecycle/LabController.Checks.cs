using Spawnlab.Checks;
using Spawnlab.Host;
using Spawnlab.Machines;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>
    /// Reruns the checks of every stage that a machine has passed, without running any stage: of every lab, of one
    /// machine (MACHINE or LAB/MACHINE), or of one lab (LAB, when no machine has that name).
    /// </summary>
    public async Task<IReadOnlyList<CheckResult>> TestAsync(string? reference, CancellationToken cancellationToken)
    {
        host.RequireRoot("spawnlab test");
        var labs = Store.LoadAll();
        var machines = reference is null
            ? labs.SelectMany(l => l.Machines.Values.Select(m => (Lab: l, Machine: m))).ToList()
            : !reference.Contains('/') && labs.FirstOrDefault(l => l.Lab == reference) is { } lab && labs.All(l => !l.Machines.ContainsKey(reference))
                ? [.. lab.Machines.Values.Select(m => (Lab: lab, Machine: m))]
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
