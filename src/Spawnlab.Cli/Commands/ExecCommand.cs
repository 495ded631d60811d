using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;

namespace Spawnlab.Cli.Commands;

internal static class ExecCommand
{
    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string>("machine") { Description = "MACHINE, or LAB/MACHINE where the name is ambiguous" };
        var commandLine = new Argument<string[]>("command") { Description = "The command to run, after --", Arity = ArgumentArity.OneOrMore };
        var command = new Command("exec", "Run a command inside a machine; its output and exit code are the command's") { machine, commandLine };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var controller = cli.Controller(result);
            var (lab, found) = controller.FindMachine(result.GetValue(machine)!);
            var session = controller.SessionOf(lab, found);
            if (session is VmSession)
            {
                // A VM's commands go through its guest agent: their output comes once they ended.
                var ran = await session.RunAsync(cli.Host.Shell, new MachineCommand(result.GetValue(commandLine)!) { ThrowOnFailure = false }, cancellationToken);
                cli.Out.Write(ran.StandardOutput);
                cli.Error.Write(ran.StandardError);
                return ran.ExitCode;
            }
            return await AttachedProcess.RunAsync(session.Enter(result.GetValue(commandLine)!), cancellationToken);
        }));
        return command;
    }
}
