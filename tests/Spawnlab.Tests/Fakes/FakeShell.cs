using Spawnlab.Host;

namespace Spawnlab.Tests.Fakes;

/// <summary>Records the commands it is given and answers from a script of responses.</summary>
internal sealed class FakeShell : IHostShell
{
    private readonly List<(Func<HostCommand, bool> Matches, HostResult Result)> _responses = [];

    public List<HostCommand> Commands { get; } = [];

    /// <summary>Answers a command before the scripted responses do, when it returns a result.</summary>
    public Func<HostCommand, HostResult?>? Handler { get; set; }

    public FakeShell Answer(string commandPrefix, string output, int exitCode = 0)
    {
        _responses.Add((c => c.ToString().StartsWith(commandPrefix, StringComparison.Ordinal), new HostResult(exitCode, output, "")));
        return this;
    }

    public Task<HostResult> RunAsync(HostCommand command, CancellationToken cancellationToken)
    {
        lock (Commands)
            Commands.Add(command);
        var result = Handler?.Invoke(command) ?? _responses.FirstOrDefault(r => r.Matches(command)).Result ?? new HostResult(0, "", "");
        if (command.ThrowOnFailure && result.ExitCode != 0)
            throw new HostCommandException(command, result.ExitCode, result.StandardError);
        return Task.FromResult(result);
    }
}
