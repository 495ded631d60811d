using Spawnlab.Labs;

namespace Spawnlab.Cli;

/// <summary>Maps what a command throws to a message on stderr and an exit code: 0 success, 2 invalid input, 1 anything else.</summary>
internal static class CommandRunner
{
    public static async Task<int> RunAsync(CliContext cli, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (LabFileException e)
        {
            foreach (var error in e.Errors)
                cli.Error.WriteLine($"error: {error}");
            return e.ExitCode;
        }
        catch (SpawnlabException e)
        {
            cli.Error.WriteLine($"spawnlab: {Spawnlab.Pool.PoolSpace.WithAdvice(e.Message)}");
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            cli.Error.WriteLine("spawnlab: interrupted");
            return 130;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The host said no where Spawnlab did not expect it: one line, not a stack trace.
            cli.Error.WriteLine($"spawnlab: {Spawnlab.Pool.PoolSpace.WithAdvice(e.Message)}");
            return 1;
        }
    }
}
