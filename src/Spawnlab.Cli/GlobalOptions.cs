using System.CommandLine;
using Spawnlab.Host;
using Spawnlab.Lifecycle;
using Spawnlab.Pool;

namespace Spawnlab.Cli;

internal static class GlobalOptions
{
    public static readonly Option<string> StateDirectory = new("--state-dir")
    {
        Description = $"Where Spawnlab keeps its pool and the state of labs (default: $SPAWNLAB_STATE_DIR, else {SpawnlabOptions.DefaultStateDirectory})",
        Recursive = true,
        DefaultValueFactory = _ => SpawnlabOptions.StateDirectoryFromEnvironment(),
    };

    public static readonly Option<DriverChoice> Driver = new("--driver")
    {
        Description = "Storage driver of a new pool: auto (btrfs where possible), btrfs or dir (default: $SPAWNLAB_DRIVER, else auto)",
        DefaultValueFactory = _ => Enum.TryParse<DriverChoice>(Environment.GetEnvironmentVariable("SPAWNLAB_DRIVER"), ignoreCase: true, out var d) ? d : DriverChoice.Auto,
    };

    public static readonly Option<bool> NoWait = new("--no-wait")
    {
        Description = "Fail at once, instead of waiting, when another command is changing the lab",
        Recursive = true,
    };

    public static SpawnlabOptions Options(ParseResult result) =>
        new(result.GetValue(StateDirectory)!, result.GetValue(Driver)) { WaitForLock = !result.GetValue(NoWait) };
}
