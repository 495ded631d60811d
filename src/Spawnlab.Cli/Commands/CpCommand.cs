using System.CommandLine;
using System.Text.RegularExpressions;
using Spawnlab.Machines;

namespace Spawnlab.Cli.Commands;

internal static partial class CpCommand
{
    public static Command Create(CliContext cli)
    {
        var source = new Argument<string>("source") { Description = "A path of the host, or MACHINE:/path (LAB/MACHINE:/path)" };
        var destination = new Argument<string>("destination") { Description = "A path of the host, or MACHINE:/path; into it when it is a folder" };
        var command = new Command("cp", "Copy a file or folder into or out of a machine (one side is MACHINE:/path), through the machine's own view of its files")
        {
            source, destination,
        };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var (from, to) = (result.GetValue(source)!, result.GetValue(destination)!);
            var (inside, outside) = (Remote(from), Remote(to));
            if (inside is not null == (outside is not null))
                throw new SpawnlabException($"cp: exactly one of {from} and {to} must be MACHINE:/path (a machine's absolute path)", exitCode: 2);
            var controller = cli.Controller(result);
            var (machine, path) = (inside ?? outside)!.Value;
            var (lab, found) = controller.FindMachine(machine);
            var session = controller.SessionOf(lab, found);
            if (inside is not null)
            {
                await MachineFiles.CopyOutAsync(session, cli.Host.Shell, path, to, cancellationToken);
                return 0;
            }
            if (!File.Exists(from) && !Directory.Exists(from))
                throw new SpawnlabException($"cp: {from}: no such file or folder on the host", exitCode: 2);
            // As cp does: into a folder that exists there, under the source's name.
            var target = await MachineFiles.IsFolderAsync(session, cli.Host.Shell, path, cancellationToken)
                ? $"{path.TrimEnd('/')}/{Path.GetFileName(Path.GetFullPath(from).TrimEnd('/'))}"
                : path;
            await MachineFiles.CopyInAsync(session, cli.Host.Shell, Path.GetFullPath(from), target, null, cancellationToken);
            return 0;
        }));
        return command;
    }

    /// <summary>MACHINE:/path or LAB/MACHINE:/path as (machine reference, path); null for a path of the host.</summary>
    internal static (string Machine, string Path)? Remote(string argument) =>
        RemotePath().Match(argument) is { Success: true } match ? (match.Groups[1].Value, match.Groups[2].Value) : null;

    [GeneratedRegex(@"^([a-z][a-z0-9-]*(?:/[a-z0-9][a-z0-9_-]*)?):(/.*)\z")]
    private static partial Regex RemotePath();
}
