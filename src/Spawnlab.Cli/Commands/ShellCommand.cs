using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;

namespace Spawnlab.Cli.Commands;

internal static class ShellCommand
{
    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string>("machine") { Description = "MACHINE, or LAB/MACHINE where the name is ambiguous" };
        var command = new Command("shell", "Open an interactive login shell as root inside a machine") { machine };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            if (cli.InputRedirected)
                throw new SpawnlabException("spawnlab shell needs a terminal; use `spawnlab exec MACHINE -- CMD` from scripts");
            var controller = cli.Controller(result);
            var (lab, found) = controller.FindMachine(result.GetValue(machine)!);
            var session = controller.SessionOf(lab, found);
            if (session is VmSession vm)
            {
                // A VM's shell is its serial console, where root is logged in by itself.
                await ConsoleCommand.AttachAsync(cli, vm, $"{lab.Lab}/{found.Name}", cancellationToken);
                return 0;
            }
            var term = Environment.GetEnvironmentVariable("TERM") ?? "xterm";
            var shell = session.Enter([$"TERM={term}", "/bin/sh", "-c", "cd /root 2>/dev/null; exec \"$(command -v bash || echo /bin/sh)\" -l"]);
            return await AttachedProcess.RunAsync(shell, cancellationToken);
        }));
        return command;
    }
}
