using Spawnlab.Host;

namespace Spawnlab.Tests.Host;

/// <summary>What commands print, kept and logged within bounds. These run real sh, head and stdbuf, without root.</summary>
public sealed class CappedOutputSpecs : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spawnlab-logs-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_command_that_prints_hundreds_of_megabytes_is_kept_up_to_the_bound_and_runs_to_its_end()
    {
        var result = await new CliWrapShell().RunAsync(HostCommand.Of("sh", "-c", "head -c 200000000 /dev/zero; echo done >&2"), CancellationToken.None);

        Assert.Equal(0, result.ExitCode);
        Assert.InRange(result.StandardOutput.Length, BoundedOutput.DefaultLimit, BoundedOutput.DefaultLimit + 100);
        Assert.EndsWith($"[spawnlab: {200000000 - BoundedOutput.DefaultLimit} more bytes of output dropped]\n", result.StandardOutput, StringComparison.Ordinal);
        Assert.Equal("done\n", result.StandardError);
    }

    [Fact]
    public async Task A_logged_command_keeps_its_exit_code_and_its_log_keeps_the_newest_bytes_within_the_limit()
    {
        var log = Path.Combine(_directory, "stage.log");
        var command = HostCommand.Of("sh", "-c", "seq 1 200000; echo the end; exit 7").LoggedTo(log, limit: 100000).WithoutThrowing();

        var result = await new CliWrapShell().RunAsync(command, CancellationToken.None);

        Assert.Equal(7, result.ExitCode);
        Assert.True(CappedLog.WasCut(log));
        var kept = CappedLog.Read(log);
        Assert.InRange(kept.Length, 50000, 100000);
        Assert.EndsWith("199999\n200000\nthe end\n", kept, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(_directory, "*.fifo.*"));
    }

    [Fact]
    public async Task A_detached_process_logs_live_through_the_capped_writer_and_the_writer_ends_with_it()
    {
        var log = Path.Combine(_directory, "server.log");

        var processes = new ProcProcessTable(new CliWrapShell());
        var process = await processes.StartDetachedAsync("sh", ["-c", "echo started; sleep 1; echo stopping"], log, CancellationToken.None);

        Assert.Equal("sh", Path.GetFileName(processes.Arguments(process)[0]));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!CappedLog.Read(log).Contains("started", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Equal("started\n", CappedLog.Read(log));
        Assert.True(await processes.WaitForExitAsync(process, TimeSpan.FromSeconds(5), CancellationToken.None));
        deadline = DateTime.UtcNow.AddSeconds(5);
        while (processes.Naming(log).Count > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Empty(processes.Naming(log));
        Assert.Equal("started\nstopping\n", CappedLog.Read(log));
    }
}
