using System.CommandLine;
using System.Diagnostics;
using System.Net.Sockets;
using Spawnlab.Machines;

namespace Spawnlab.Cli.Commands;

internal static class ConsoleCommand
{
    private const byte Escape = 0x1d; // Ctrl-]

    public static Command Create(CliContext cli)
    {
        var machine = new Argument<string>("machine") { Description = "MACHINE, or LAB/MACHINE where the name is ambiguous" };
        var command = new Command("console", "Attach this terminal to a VM's serial console (Ctrl-] leaves)") { machine };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var controller = cli.Controller(result);
            var (lab, found) = controller.FindMachine(result.GetValue(machine)!);
            if (controller.SessionOf(lab, found) is not VmSession vm)
                throw new SpawnlabException($"machine {lab.Lab}/{found.Name} is a container: its console is its boot log (`spawnlab logs {found.Name}`); `spawnlab shell {found.Name}` logs in", exitCode: 2);
            await AttachAsync(cli, vm, $"{lab.Lab}/{found.Name}", cancellationToken);
            return 0;
        }));
        return command;
    }

    /// <summary>This terminal on a VM's serial console, raw, until Ctrl-] (or the console closes).</summary>
    public static async Task AttachAsync(CliContext cli, VmSession vm, string name, CancellationToken cancellationToken)
    {
        if (cli.InputRedirected)
            throw new SpawnlabException("a VM's console needs a terminal", exitCode: 2);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(vm.ConsoleSocket), cancellationToken);
        cli.Error.WriteLine($"connected to the serial console of {name}; Ctrl-] leaves");
        var saved = Stty("-g").Trim();
        Stty("raw", "-echo");
        try
        {
            await using var network = new NetworkStream(socket);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var output = network.CopyToAsync(Console.OpenStandardOutput(), stop.Token);
            var input = Task.Run(async () =>
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[256];
                while (await stdin.ReadAsync(buffer, stop.Token) is var read and > 0)
                {
                    var end = Array.IndexOf(buffer, Escape, 0, read);
                    await network.WriteAsync(buffer.AsMemory(0, end < 0 ? read : end), stop.Token);
                    if (end >= 0)
                        return;
                }
            }, stop.Token);
            await Task.WhenAny(output, input);
            await stop.CancelAsync();
        }
        finally
        {
            Stty(saved);
            cli.Error.WriteLine();
        }
    }

    /// <summary>Runs stty on this terminal; returns what it printed.</summary>
    private static string Stty(params string[] arguments)
    {
        var info = new ProcessStartInfo("stty") { RedirectStandardOutput = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
