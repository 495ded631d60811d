using System.CommandLine;
using System.Diagnostics;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;

namespace Spawnlab.Cli.Commands;

internal static class UpCommand
{
    public static Command Create()
    {
        var file = LabArgument.File("The lab file (default: lab.yaml)");
        var from = new Option<string?>("--from") { Description = "Run this stage of this machine and every later one again: MACHINE/STAGE" };
        var noCache = new Option<bool>("--no-cache") { Description = "Run every stage again, from the image" };
        var command = new Command("up", "Bring a lab up: bootstrap its images once, make its networks, boot its machines, run their stages")
        {
            file, GlobalOptions.Driver, from, noCache, CheckOutput.Report, CheckOutput.JUnit,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(async () =>
        {
            var lab = LabParser.ParseFile(result.GetValue(file)!);
            var options = new UpOptions
            {
                NoCache = result.GetValue(noCache),
                From = result.GetValue(from) is { } text ? StageReference.Parse(text) : null,
            };
            var clock = Stopwatch.StartNew();
            var up = await GlobalOptions.Controller(result).UpAsync(lab, options, cancellationToken);
            CheckOutput.Write(result, up.Checks);
            if (up.Failures.Count > 0)
            {
                Console.Error.WriteLine(
                    $"spawnlab: {up.Failures.Count} of {lab.Machines.Count} machines failed (they are left running for inspection; the next `up` resumes; `spawnlab down {lab.Name}` removes everything):");
                foreach (var failure in up.Failures)
                    Console.Error.WriteLine(failure);
                return 1;
            }
            Console.Error.WriteLine($"lab {lab.Name} is up: {up.State.Machines.Count} machines ready in {clock.Elapsed.TotalSeconds:0.0} s");
            return 0;
        }));
        return command;
    }
}
