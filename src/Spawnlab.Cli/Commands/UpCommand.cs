using System.CommandLine;
using System.Diagnostics;
using Spawnlab.Labs;
using Spawnlab.Lifecycle;
using Spectre.Console;

namespace Spawnlab.Cli.Commands;

internal static class UpCommand
{
    public static Command Create(CliContext cli)
    {
        var file = LabArgument.File("The lab file (default: lab.yaml)");
        var from = new Option<string?>("--from") { Description = "Run this stage of this machine and every later one again: MACHINE/STAGE" };
        var noCache = new Option<bool>("--no-cache") { Description = "Run every stage again, from the image" };
        var uplink = new Option<string?>("--uplink") { Description = "Masquerade every NAT network towards this interface (default: each network's uplink, else the default route's)" };
        var jobs = new Option<int?>("--jobs", "-j") { Description = "How many machines may boot or run a stage at the same time (default: 4 per core)" };
        jobs.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
                result.AddError("--jobs: expected a number of machines, 1 or more");
        });
        var timings = new Option<bool>("--timings") { Description = "Print where the time went: the lab's phases, and each machine phase's wall time, sum over machines and longest" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what up would do (bootstrap, make, clone, restore, run, remove) and change nothing" };
        var command = new Command("up", "Bring a lab up: bootstrap its images once, make its networks, boot its machines, run their stages")
        {
            file, GlobalOptions.Driver, from, noCache, jobs, uplink, CheckOutput.Report, CheckOutput.JUnit, dryRun, timings,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var lab = LabParser.ParseFile(result.GetValue(file)!);
            var options = new UpOptions
            {
                NoCache = result.GetValue(noCache),
                From = result.GetValue(from) is { } text ? StageRef.Parse(text) : null,
                Jobs = result.GetValue(jobs),
                Uplink = result.GetValue(uplink),
            };
            if (result.GetValue(dryRun))
            {
                var (plan, caveat) = await cli.Controller(result).PlanUpAsync(lab, options, cancellationToken);
                cli.Out.Write(PlanText.Of(plan, caveat));
                return 0;
            }
            var clock = Stopwatch.StartNew();
            UpResult up;
            UpTimings? timed = null;
            IProgressSink Timed(IProgressSink sink) => result.GetValue(timings) ? timed = new UpTimings(sink) : sink;
            try
            {
                if (cli.Interactive)
                {
                    var live = new LiveProgress(cli.ErrorConsole);
                    up = await live.RunAsync(() => cli.Controller(result, Timed(live)).UpAsync(lab, options, cancellationToken));
                }
                else
                {
                    up = await cli.Controller(result, Timed(new ConsoleProgress(cli.Error))).UpAsync(lab, options, cancellationToken);
                }
            }
            finally
            {
                if (timed is not null)
                    WriteTimings(cli, timed);
            }
            CheckOutput.Write(cli, result, up.Checks);
            if (up.Failures.Count > 0)
            {
                cli.Error.WriteLine(
                    $"spawnlab: {up.Failures.Count} of {lab.Machines.Count} machines failed (they are left running for inspection; the next `up` resumes; `spawnlab down {lab.Name}` removes everything):");
                foreach (var failure in up.Failures)
                    cli.Error.WriteLine(Spawnlab.Pool.PoolSpace.WithAdvice(failure));
                foreach (var skipped in up.Skipped)
                    cli.Error.WriteLine(skipped);
                return 1;
            }
            cli.Error.WriteLine($"lab {lab.Name} is up: {up.State.Machines.Count} machine{(up.State.Machines.Count == 1 ? "" : "s")} ready in {clock.Elapsed.TotalSeconds:0.0} s");
            return 0;
        }));
        return command;
    }

    private static void WriteTimings(CliContext cli, UpTimings timings)
    {
        static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
        var table = new Table().Border(TableBorder.Simple).AddColumns("PHASE", "WALL (s)", "SUM OVER MACHINES (s)", "MACHINES", "LONGEST (s)");
        foreach (var row in timings.Rows())
            table.AddRow(row.Phase, Seconds(row.Wall), row.Machines > 0 && row.Phase != "total" ? Seconds(row.Sum) : "", row.Machines > 0 ? row.Machines.ToString(System.Globalization.CultureInfo.InvariantCulture) : "", row.Machines > 0 && row.Phase != "total" ? Seconds(row.Longest) : "");
        cli.ErrorConsole.Write(table);
    }
}
