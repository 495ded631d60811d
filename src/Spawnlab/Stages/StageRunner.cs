using System.Formats.Tar;
using Spawnlab.Ansible;
using Spawnlab.Checks;
using Spawnlab.Host;
using Spawnlab.Labs;
using Spawnlab.Machines;

namespace Spawnlab.Stages;

/// <summary>Where a stage runs: the lab, the machine, its root on the host and its PID 1.</summary>
public sealed record StageContext(LabDefinition Lab, string Machine, string Root, MachineSession Session)
{
    /// <summary>For an `ansible:` stage: the lab's inventory file and the folder of collections holding Spawnlab's.</summary>
    public (string Inventory, string Collections)? Ansible { get; init; }
}

/// <summary>
/// Runs one stage on a running machine: files copied in, the host script, the script inside, then the checks.
/// Everything the stage prints goes to its log.
/// </summary>
public sealed class StageRunner(IHostShell shell, CheckRunner checks)
{
    public async Task<IReadOnlyList<CheckResult>> RunAsync(StageContext context, StageDefinition stage, string logFile, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        await File.WriteAllTextAsync(logFile, $"--- stage {stage.Name} of {context.Machine}, {DateTimeOffset.Now:O}{Environment.NewLine}", cancellationToken);
        // The copies and scripts share the stage's timeout; past it, what they run is killed and the stage fails.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(stage.Timeout);
        try
        {
            await RunStepsAsync(context, stage, logFile, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await File.AppendAllTextAsync(logFile, $"--- stage timed out after {stage.Timeout}{Environment.NewLine}", CancellationToken.None);
            throw new StageFailedException(context.Machine, stage.Name, $"its scripts (timeout {stage.Timeout}, set 'timeout:' on the stage to change it)",
                $"its log ({logFile}) ends with:{Environment.NewLine}{CappedLog.Tail(logFile)}");
        }

        var results = new List<CheckResult>();
        foreach (var check in stage.Checks)
        {
            var result = await checks.RunAsync(context.Lab.Name, context.Machine, stage.Name, context.Session, check, cancellationToken);
            await File.AppendAllTextAsync(logFile,
                $"--- check {result.Name}: {result.Outcome.ToString().ToLowerInvariant()}{(result.Message.Length > 0 ? $": {result.Message}" : "")}{Environment.NewLine}",
                cancellationToken);
            results.Add(result);
        }
        return results;
    }

    private async Task RunStepsAsync(StageContext context, StageDefinition stage, string logFile, CancellationToken cancellationToken)
    {
        foreach (var file in stage.Files)
            await StepAsync(context, stage, logFile, $"copying {file.SourceAsWritten} to {file.MachinePath}", () => MachineFiles.CopyInAsync(context.Session, shell, file.Source, file.MachinePath, logFile, cancellationToken));

        if (stage.Host is { } hostScript && !context.Session.RootOnHost)
        {
            await HostScriptForVmAsync(context, stage, hostScript, logFile, cancellationToken);
        }
        else if (stage.Host is not null)
        {
            var command = HostScript(HostCommand.Of("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", NoLinksInRoot, "sh", stage.Host),
                context, context.Root, logFile);
            await StepAsync(context, stage, logFile, "host script", () => shell.RunAsync(command, cancellationToken));
        }

        if (stage.Ansible is { } playbook && context.Ansible is var (inventory, collections))
        {
            var command = AnsiblePlaybook.Command(playbook, inventory, context.Machine, collections).LoggedTo(logFile);
            await StepAsync(context, stage, logFile, $"playbook {playbook.PlaybookAsWritten}", () => shell.RunAsync(command, cancellationToken),
                () => AnsiblePlaybook.Failure(CappedLog.Read(logFile)));
        }

        if (stage.Run is { } script)
        {
            var command = new MachineCommand(["/bin/sh", "-e", "-c", script]) { LogFile = logFile };
            await StepAsync(context, stage, logFile, "run script", () => context.Session.RunAsync(shell, command, cancellationToken));
        }
    }

    /// <summary>
    /// A VM's root is a disk, not a folder of the host: its host script gets an empty folder as $ROOT, and what the
    /// script leaves there is copied into the VM's root afterwards (owned by root, as `files:` copies), so that a
    /// script that writes into $ROOT works as on a container. A script that reads the machine's files from $ROOT sees none.
    /// </summary>
    private async Task HostScriptForVmAsync(StageContext context, StageDefinition stage, string script, string logFile, CancellationToken cancellationToken)
    {
        var staging = Directory.CreateTempSubdirectory("spawnlab-root-").FullName;
        try
        {
            var command = HostScript(HostCommand.Of("/bin/sh", "-e", "-c", script), context, staging, logFile);
            await StepAsync(context, stage, logFile, "host script", () => shell.RunAsync(command, cancellationToken));
            if (Directory.EnumerateFileSystemEntries(staging).Any())
                await StepAsync(context, stage, logFile, "copying what the host script put in $ROOT", () => MachineFiles.CopyFolderInAsync(context.Session, shell, staging, "/", logFile, cancellationToken));
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>A host script's command: $ROOT, $MACHINE and $LAB set, run from the lab's folder, its output in the stage's log.</summary>
    private static HostCommand HostScript(HostCommand command, StageContext context, string root, string logFile) =>
        command.WithEnvironment("ROOT", root)
            .WithEnvironment("MACHINE", context.Machine)
            .WithEnvironment("LAB", context.Lab.Name)
            .WithWorkingDirectory(context.Lab.Directory)
            .WithStandardInput("")
            .LoggedTo(logFile);

    /// <summary>
    /// The machine fills its root with what it likes, links to host paths included, while a host script writes into it
    /// as the host's root. So the script runs in a mount namespace of its own in which $ROOT is bound onto itself with
    /// nosymfollow: no symbolic link inside the machine's root is followed there (a write through one fails with
    /// "Too many levels of symbolic links"), and the host sees no mount.
    /// </summary>
    private const string NoLinksInRoot =
        "mount --bind \"$ROOT\" \"$ROOT\" && mount -o remount,bind,nosymfollow \"$ROOT\" && exec /bin/sh -e -c \"$1\"";

    /// <param name="explain">What went wrong, read from the log once the step failed (the task of a playbook), or null.</param>
    private static async Task StepAsync(StageContext context, StageDefinition stage, string logFile, string step, Func<Task> action, Func<string?>? explain = null)
    {
        await File.AppendAllTextAsync(logFile, $"--- {step}{Environment.NewLine}");
        try
        {
            await action();
        }
        catch (HostCommandException e)
        {
            await File.AppendAllTextAsync(logFile, $"--- {step} failed with exit code {e.CommandExitCode}{Environment.NewLine}");
            var why = explain?.Invoke() is { } explained ? $"{explained}{Environment.NewLine}" : "";
            throw new StageFailedException(context.Machine, stage.Name, $"{step} (exit code {e.CommandExitCode})",
                $"{why}its log ({logFile}) ends with:{Environment.NewLine}{CappedLog.Tail(logFile)}");
        }
    }
}
