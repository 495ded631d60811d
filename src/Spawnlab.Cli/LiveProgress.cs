using System.Collections.Concurrent;
using System.Diagnostics;
using Spawnlab.Lifecycle;
using Spawnlab.Machines;
using Spectre.Console;

namespace Spawnlab.Cli;

/// <summary>On a terminal: one live row per machine with its current step, elapsed time and state.</summary>
internal sealed class LiveProgress(IAnsiConsole console) : IProgressSink
{
    private readonly ConcurrentDictionary<string, (string Status, MachinePhase Phase, Stopwatch Clock)> _machines = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _messages = new();

    public void Report(string value) => _messages.Enqueue($"{DateTime.Now:HH:mm:ss} {value}");

    public void Machine(string machine, MachineStep step) =>
        _machines.AddOrUpdate(machine, _ => (step.ToString(), step.Phase, Stopwatch.StartNew()), (_, old) =>
        {
            if (step.Phase != MachinePhase.Working)
                old.Clock.Stop();
            return (step.ToString(), step.Phase, old.Clock);
        });

    public async Task<T> RunAsync<T>(Func<Task<T>> work)
    {
        return await console
            .Live(Render())
            .StartAsync(async context =>
            {
                var task = work();
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
                while (!task.IsCompleted)
                {
                    context.UpdateTarget(Render());
                    await Task.WhenAny(task, timer.WaitForNextTickAsync().AsTask());
                }
                context.UpdateTarget(Render());
                return await task;
            });
    }

    private Table Render()
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("MACHINE", "ELAPSED", "NOW");
        foreach (var (machine, (status, phase, clock)) in _machines.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            var color = phase switch { MachinePhase.Ready => "green", MachinePhase.Failed => "red", MachinePhase.Skipped => "yellow", _ => "blue" };
            table.AddRow(Markup.Escape(machine), $"{clock.Elapsed.TotalSeconds,5:0.0}s", $"[{color}]{Markup.Escape(status)}[/]");
        }
        foreach (var message in _messages.TakeLast(3))
            table.Caption(Markup.Escape(message));
        return table;
    }
}
