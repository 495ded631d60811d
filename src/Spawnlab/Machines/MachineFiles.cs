using System.Formats.Tar;
using Spawnlab.Host;

namespace Spawnlab.Machines;

/// <summary>
/// Files and folders into and out of a running machine, through the machine's own view of its filesystem (its tar,
/// run inside), so that a symbolic link inside resolves inside the machine and never to a path of the host.
/// </summary>
public static class MachineFiles
{
    /// <summary>A file of the host to exactly <paramref name="machinePath"/> (its mode kept), or a folder's content into that folder.</summary>
    public static async Task CopyInAsync(MachineSession session, IHostShell shell, string source, string machinePath, string? logFile, CancellationToken cancellationToken)
    {
        if (File.Exists(source))
        {
            var mode = Convert.ToString((int)File.GetUnixFileMode(source), 8);
            var command = new MachineCommand(["/bin/sh", "-c", "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\" && chmod \"$2\" \"$1\"", "sh", machinePath, mode])
            {
                StandardInputFile = source,
                LogFile = logFile,
            };
            await session.RunAsync(shell, command, cancellationToken);
            return;
        }
        await CopyFolderInAsync(session, shell, source, machinePath, logFile, cancellationToken);
    }

    /// <summary>
    /// A folder of the host into the machine, as a tar archive unpacked inside by root: files owned by root, folders
    /// that exist there kept as they are (their owner and mode are the machine's).
    /// </summary>
    public static async Task CopyFolderInAsync(MachineSession session, IHostShell shell, string source, string machinePath, string? logFile, CancellationToken cancellationToken)
    {
        var archive = Path.GetTempFileName();
        try
        {
            // Through a stream: TarFile refuses to write to a file that exists, as the temporary file does.
            await using (var tar = File.Create(archive))
                await TarFile.CreateFromDirectoryAsync(source, tar, includeBaseDirectory: false, cancellationToken);
            var command = new MachineCommand(["/bin/sh", "-c", "mkdir -p \"$1\" && tar -C \"$1\" --no-same-owner --no-overwrite-dir -xf -", "sh", machinePath])
            {
                StandardInputFile = archive,
                LogFile = logFile,
            };
            await session.RunAsync(shell, command, cancellationToken);
        }
        finally
        {
            File.Delete(archive);
        }
    }

    /// <summary>Whether <paramref name="machinePath"/> is a folder inside the machine.</summary>
    public static async Task<bool> IsFolderAsync(MachineSession session, IHostShell shell, string machinePath, CancellationToken cancellationToken) =>
        (await session.RunAsync(shell, new MachineCommand(["test", "-d", machinePath]) { ThrowOnFailure = false }, cancellationToken)).Succeeded;

    /// <summary>
    /// A file or folder of the machine to <paramref name="hostPath"/> (into it when it is a folder), owned by the host's
    /// root, modes kept. The archive is unpacked by the host's tar in a folder of its own first: no member of it lands
    /// outside, whatever the machine put in it.
    /// </summary>
    public static async Task CopyOutAsync(MachineSession session, IHostShell shell, string machinePath, string hostPath, CancellationToken cancellationToken)
    {
        var target = Directory.Exists(hostPath) ? Path.Combine(hostPath, Path.GetFileName(machinePath.TrimEnd('/'))) : Path.GetFullPath(hostPath);
        if (Path.GetDirectoryName(target) is not { } parent || !Directory.Exists(parent))
            throw new SpawnlabException($"cp: {Path.GetDirectoryName(target)} is no folder of the host", exitCode: 2);
        var archive = Path.GetTempFileName();
        var unpacked = Path.Combine(parent, $".spawnlab-cp-{Guid.NewGuid().ToString("N")[..8]}");
        try
        {
            await session.ReadArchiveAsync(shell, machinePath, archive, cancellationToken);
            Directory.CreateDirectory(unpacked);
            await shell.RunAsync(HostCommand.Of("tar", "-x", "-f", archive, "-C", unpacked, "--no-same-owner", "--preserve-permissions"), cancellationToken);
            var entry = Directory.EnumerateFileSystemEntries(unpacked).Single();
            if (Directory.Exists(target) && new FileInfo(target).LinkTarget is null)
                await shell.RunAsync(HostCommand.Of("rm", "-rf", "--one-file-system", "--", target), cancellationToken);
            if (Directory.Exists(entry) && new FileInfo(entry).LinkTarget is null)
                Directory.Move(entry, target);
            else
                File.Move(entry, target, overwrite: true);
        }
        finally
        {
            File.Delete(archive);
            if (Directory.Exists(unpacked))
                await shell.RunAsync(HostCommand.Of("rm", "-rf", "--one-file-system", "--", unpacked), CancellationToken.None);
        }
    }
}
