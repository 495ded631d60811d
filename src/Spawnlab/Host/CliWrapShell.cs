using System.Text;
using CliWrap;
using CliWrap.Buffered;

namespace Spawnlab.Host;

/// <summary>Runs host commands with CliWrap, buffering their output.</summary>
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
        BufferedCommandResult result;
        try
        {
            result = await cli.ExecuteBufferedAsync(Encoding.UTF8, cancellationToken);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SpawnlabException($"cannot run {command.Program}: {e.Message} (is it installed? `spawnlab doctor` lists what is missing)");
        }
        if (command.ThrowOnFailure && result.ExitCode != 0)
            throw new HostCommandException(command, result.ExitCode, result.StandardError);
        return new HostResult(result.ExitCode, result.StandardOutput, result.StandardError);
    }
}
