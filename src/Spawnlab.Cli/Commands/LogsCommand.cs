using System.CommandLine;

namespace Spawnlab.Cli.Commands;

internal static class LogsCommand
{
    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string>("machine") { Description = "MACHINE or LAB/MACHINE" };
        var stage = new Argument<string?>("stage") { Description = "Only this stage's log (default: the boot log and every stage's log)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("logs", "Print a machine's boot log and the logs of its stages") { machine, stage };
        command.SetAction(result => CommandRunner.RunAsync(cli, () =>
        {
            var controller = cli.Controller(result);
            var (lab, found) = controller.FindMachine(result.GetValue(machine)!);
            var files = new List<string>();
            if (result.GetValue(stage) is { } only)
            {
                var index = found.Stages.FindIndex(s => s.Name == only);
                if (index < 0)
                    throw new SpawnlabException($"{lab.Lab}/{found.Name} has no stage {only}", exitCode: 2);
                files.Add(controller.StageLog(lab.Lab, found.Name, index, only));
            }
            else
            {
                files.Add(found.LogFile);
                if (found.ConsoleLog is { } console)
                    files.Add(console);
                files.AddRange(found.Stages.Select((s, i) => controller.StageLog(lab.Lab, found.Name, i, s.Name)));
            }
            foreach (var file in files.Where(File.Exists))
            {
                if (Spawnlab.Host.CappedLog.WasCut(file))
                    cli.Out.WriteLine($"--- {file} was cut: its oldest part is gone, the newest {Spawnlab.Host.CappedLog.Limit / 1024 / 1024} MiB at most are kept");
                cli.Out.Write(Spawnlab.Host.CappedLog.Read(file));
            }
            return Task.FromResult(0);
        }));
        return command;
    }
}
