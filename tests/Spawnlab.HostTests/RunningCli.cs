using System.Diagnostics;

namespace Spawnlab.HostTests;

/// <summary>
/// The spawnlab CLI running in the background, for tests that interrupt it. Disposing kills it with everything it
/// started if it still runs, so that a failing test leaves no CLI, debootstrap or stage script behind.
/// </summary>
public sealed class RunningCli : IDisposable
{
    private RunningCli(Process process) => Process = process;

    public Process Process { get; }

    public static RunningCli Start(string stateDirectory, params string[] arguments) =>
        new(Process.Start(HostProbe.CliStartInfo(stateDirectory, arguments))!);

    /// <summary>
    /// Runs the CLI until the condition holds, then SIGKILLs it alone, as kill -9 or the OOM killer would: what it
    /// started (a stage's script, the cp of a snapshot) lives on.
    /// </summary>
    public static async Task KillWhenAsync(string stateDirectory, Func<bool> condition, string what, params string[] arguments)
    {
        using var cli = Start(stateDirectory, arguments);
        await cli.WaitForAsync(condition, what);
        cli.Process.Kill();
        await cli.Process.WaitForExitAsync();
    }

    /// <summary>Waits until the condition holds; fails if the CLI ends first or it takes longer than four minutes.</summary>
    public async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(240);
        while (!condition())
        {
            Assert.False(Process.HasExited, $"spawnlab ended before {what}: " + (Process.HasExited ? await Process.StandardError.ReadToEndAsync() : ""));
            Assert.True(DateTime.UtcNow < deadline, $"{what} never came");
            await Task.Delay(50);
        }
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }
        Process.Dispose();
    }
}
