using CliWrap;

namespace Spawnlab.Host;

/// <summary>Runs host commands with CliWrap, keeping their output up to a bound (<see cref="BoundedOutput"/>).</summary>
public sealed class CliWrapShell : IHostShell
{
    public async Task<HostResult> RunAsync(HostCommand command, CancellationToken cancellationToken)
    {
        var cli = Cli.Wrap(command.Program)
            .WithArguments(command.Arguments)
            .WithEnvironmentVariables(command.Environment.ToDictionary(kv => kv.Key, kv => (string?)kv.Value))
            .WithValidation(CommandResultValidation.None);
        if (command.StandardInput is { } input)
            cli = cli.WithStandardInputPipe(PipeSource.FromString(input));
        if (command.StandardInputFile is { } file)
            cli = cli.WithStandardInputPipe(PipeSource.FromFile(file));
        if (command.WorkingDirectory is { } directory)
            cli = cli.WithWorkingDirectory(directory);
        using var standardOutput = new BoundedOutput();
        using var standardError = new BoundedOutput();
        CommandResult result;
        try
        {
            result = await cli.WithStandardOutputPipe(PipeTarget.ToStream(standardOutput)).WithStandardErrorPipe(PipeTarget.ToStream(standardError))
                .ExecuteAsync(cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SpawnlabException($"cannot run {command.Program}: {e.Message} (is it installed? `spawnlab doctor` lists what is missing)");
        }
        if (command.ThrowOnFailure && result.ExitCode != 0)
            throw new HostCommandException(command, result.ExitCode, standardError.ToString());
        return new HostResult(result.ExitCode, standardOutput.ToString(), standardError.ToString());
    }
}
