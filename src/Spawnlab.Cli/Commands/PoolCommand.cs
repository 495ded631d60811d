using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Pool;

namespace Spawnlab.Cli.Commands;

internal static class PoolCommand
{
    public static Command Create(CliContext cli)
    {
        var detach = new Command("detach", "Unmount a loop-backed pool when no lab is up; its images stay in the image file for next time");
        detach.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var controller = cli.Controller(result);
            if (controller.Store.LoadAll() is { Count: > 0 } labs)
                throw new SpawnlabException($"labs are up ({string.Join(", ", labs.Select(l => l.Lab))}); bring them down first");
            var detached = await new PoolOpener(cli.Host, result.GetValue(GlobalOptions.StateDirectory)!).DetachAsync(cancellationToken);
            cli.Error.WriteLine(detached ? "pool unmounted" : "no loop-backed pool is mounted");
            return 0;
        }));
        return new Command("pool", "Manage the storage pool") { detach };
    }
}
