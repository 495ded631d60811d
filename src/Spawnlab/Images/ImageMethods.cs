using Spawnlab.Host;
using Spawnlab.Labs;

namespace Spawnlab.Images;

/// <summary>
/// The ways of filling the root of a new image, each logged to the image's log: debootstrap, a tarball, a command of
/// the user's, packages on a snapshot of another image; then what every image gets (<see cref="PrepareAsync"/>).
/// </summary>
internal sealed class ImageMethods(IHostShell shell, ImageDefinition image, string root, string log, IProgress<string> progress)
{
    /// <summary>A root made by debootstrap, its progress reported from its log as it goes.</summary>
    public async Task DebootstrapAsync(CancellationToken cancellationToken)
    {
        var packages = image.Packages.Concat(ImageKeys.RequiredPackages).Distinct().ToList();
        var mirror = image.Mirror ?? HostMirror.Find(image.Suite);
        progress.Report($"bootstrapping image {image.Name} ({image.Suite}, {packages.Count} packages) from {mirror}");
        await LoggedAsync(HostCommand.Of("debootstrap", "--variant=minbase", $"--include={string.Join(',', packages)}", image.Suite, root, mirror),
            "debootstrap", cancellationToken, debootstrap: true);
    }

    /// <summary>A root unpacked from a tarball, owners, modes, xattrs, ACLs and device nodes kept; a single top folder is taken as the root.</summary>
    public async Task UnpackAsync(CancellationToken cancellationToken)
    {
        progress.Report($"unpacking image {image.Name} from {image.Tarball}");
        // tar finds the compression (gzip, xz, zstd) by itself when it reads a file.
        await LoggedAsync(HostCommand.Of("tar", "--extract", "--file", image.Tarball!, "--directory", root,
            "--preserve-permissions", "--same-owner", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls"), "tar", cancellationToken);
        if (SingleTopFolder(root) is { } top)
        {
            progress.Report($"image {image.Name}: the tarball's root is its folder {Path.GetFileName(top)}/");
            var moved = Path.Combine(root, ".spawnlab-top-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.Move(top, moved);
            foreach (var entry in Directory.EnumerateFileSystemEntries(moved).ToList())
            {
                var target = Path.Combine(root, Path.GetFileName(entry));
                if (Directory.Exists(entry) && new FileInfo(entry).LinkTarget is null)
                    Directory.Move(entry, target);
                else
                    File.Move(entry, target);
            }
            Directory.Delete(moved);
        }
    }

    /// <summary>The one folder a root holds and nothing else, when it is no folder of a root itself (as Arch's root.x86_64/); or null.</summary>
    internal static string? SingleTopFolder(string root)
    {
        var entries = Directory.EnumerateFileSystemEntries(root).Take(2).ToList();
        if (entries is not [var only] || !Directory.Exists(only) || new FileInfo(only).LinkTarget is not null)
            return null;
        return Path.GetFileName(only) is "etc" or "usr" or "bin" or "sbin" or "lib" or "var" or "opt" or "srv" or "home" or "root" ? null : only;
    }

    /// <summary>A root filled by the user's command, run on the host in the lab file's folder with ROOT and IMAGE set.</summary>
    public async Task RunCommandAsync(CancellationToken cancellationToken)
    {
        progress.Report($"running the command of image {image.Name} (its output: {log})");
        var command = HostCommand.Of("sh", "-c", image.Command!)
            .WithEnvironment("ROOT", root)
            .WithEnvironment("IMAGE", image.Name);
        if (image.Directory is { } directory)
            command = command.WithWorkingDirectory(directory);
        await LoggedAsync(command, "its command", cancellationToken);
    }

    /// <summary>The packages of a derived image, installed with apt inside the snapshot of its parent.</summary>
    public async Task InstallAsync(CancellationToken cancellationToken)
    {
        if (image.Packages.Count == 0)
            return;
        if (!File.Exists(Path.Combine(root, "usr/bin/apt-get")))
            throw new SpawnlabException($"image {image.Name}: packages need apt-get, and image {image.From} has none; install them in its setup instead");
        progress.Report($"installing {image.Packages.Count} packages into image {image.Name} (from {image.From})");
        var script = "export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends "
            + string.Join(' ', image.Packages) + " && apt-get clean";
        // The host's resolver, for apt to reach the mirror; the image keeps its own (empty) resolv.conf.
        await LoggedAsync(InImage("--resolv-conf=bind-host").WithArguments("-c", script), "apt-get", cancellationToken);
    }

    /// <summary>What every image gets, however it was made: no identity of its own, a plain resolv.conf, no apt cache; then its setup.</summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        // Each machine gets its own machine-id and hostname when it is cloned; the image holds neither.
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc/machine-id"), "");
        File.Delete(Path.Combine(root, "etc/hostname"));
        // systemd-resolved is there for machines that take DHCP leases, which turn it on; the others keep a plain resolv.conf.
        await shell.RunAsync("sh", ["-c", "rm -f \"$1\"/etc/systemd/system/*/systemd-resolved.service \"$1\"/etc/systemd/system/dbus-org.freedesktop.resolve1.service && rm -f \"$1\"/etc/resolv.conf && : > \"$1\"/etc/resolv.conf", "sh", root], cancellationToken);
        // apt's cache is of no use in a machine that never reaches a mirror.
        await shell.RunAsync("sh", ["-c", "rm -rf \"$1\"/var/cache/apt/archives/*.deb \"$1\"/var/lib/apt/lists/*_Packages", "sh", root], cancellationToken);
        if (image.Setup is { } setup)
        {
            progress.Report($"running setup of image {image.Name}");
            await LoggedAsync(InImage().WithArguments("-e").WithStandardInput(setup), "its setup", cancellationToken);
            File.WriteAllText(Path.Combine(root, "etc/machine-id"), "");
        }
    }

    /// <summary>/bin/sh in the new image, by systemd-nspawn, its further arguments to follow.</summary>
    private HostCommand InImage(params string[] options) =>
        HostCommand.Of("systemd-nspawn", ["--quiet", "--register=no", "--keep-unit", "--pipe", .. options, "-D", root, "/bin/sh"]);

    /// <summary>
    /// Runs a command with its output appended to the image's log (debootstrap's progress read from it while it runs,
    /// with <paramref name="debootstrap"/>); a failure says the log's last lines.
    /// </summary>
    private async Task LoggedAsync(HostCommand command, string what, CancellationToken cancellationToken, bool debootstrap = false)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = debootstrap ? WatchAsync(stop.Token) : Task.CompletedTask;
        var result = await shell.RunAsync(command.LoggedTo(log).WithoutThrowing(), cancellationToken);
        await stop.CancelAsync();
        await watch;
        if (!result.Succeeded)
            throw new SpawnlabException($"image {image.Name}: {what} failed (exit code {result.ExitCode}): {OutputTail.Of(CappedLog.Read(log), 5)}; the whole output is in {log}");
    }

    /// <summary>Every two seconds, debootstrap's phase and count from the log, when they changed.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        string? last = null;
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                var now = BootstrapProgress.Of(CappedLog.Read(log));
                if (now is not null && now != last)
                    progress.Report($"image {image.Name}: {now}");
                last = now ?? last;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
