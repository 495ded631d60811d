using System.Text.Json;
using Spawnlab.Host;

namespace Spawnlab.Pool;

public enum DriverChoice
{
    Auto,
    Btrfs,
    Dir,
}

/// <summary>
/// Opens the pool under the state directory: the host's btrfs when the directory is on btrfs, otherwise a sparse,
/// loop-mounted btrfs image file that Spawnlab makes (as Incus does), or plain directories when btrfs is not to be had
/// or is not wanted. The choice is recorded on first use, so that every later command finds the same pool.
/// </summary>
public sealed class PoolOpener(IHost host, string stateDirectory)
{
    public const string DefaultImageSize = "64G";

    private string PoolPath => Path.Combine(stateDirectory, "pool");
    private string ImageFile => Path.Combine(stateDirectory, "pool.img");
    private string RecordFile => Path.Combine(stateDirectory, "pool.json");

    /// <summary>The pool as recorded, without creating or mounting anything; null when none was made yet.</summary>
    public StoragePool? Existing()
    {
        if (!File.Exists(RecordFile))
            return null;
        var record = JsonSerializer.Deserialize(File.ReadAllText(RecordFile), PlainJson.Default.PoolRecord)
            ?? throw new SpawnlabException($"{RecordFile} is empty");
        return new StoragePool(PoolPath, record.Kind == PoolKind.Dir ? new DirectoryDriver(host.Shell) : new BtrfsDriver(host.Shell), host);
    }

    public async Task<StoragePool> OpenAsync(DriverChoice choice, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(stateDirectory);
        var kind = File.Exists(RecordFile)
            ? JsonSerializer.Deserialize(File.ReadAllText(RecordFile), PlainJson.Default.PoolRecord)!.Kind
            : await ChooseAsync(choice, cancellationToken);
        if (choice != DriverChoice.Auto && (choice == DriverChoice.Dir) != (kind == PoolKind.Dir))
            throw new SpawnlabException(
                $"the pool in {stateDirectory} uses the {(kind == PoolKind.Dir ? "dir" : "btrfs")} driver, not {choice.ToString().ToLowerInvariant()}; use another --state-dir for another driver");

        Directory.CreateDirectory(PoolPath);
        if (kind == PoolKind.BtrfsLoop)
            await MountImageAsync(cancellationToken);
        File.WriteAllText(RecordFile, JsonSerializer.Serialize(new PoolRecord(kind), PlainJson.Default.PoolRecord));
        var pool = new StoragePool(PoolPath, kind == PoolKind.Dir ? new DirectoryDriver(host.Shell) : new BtrfsDriver(host.Shell), host);
        Directory.CreateDirectory(pool.ImagesDirectory);
        return pool;
    }

    /// <summary>Unmounts a loop-backed pool (its loop device goes with it); the image file and its images stay for next time.</summary>
    public async Task<bool> DetachAsync(CancellationToken cancellationToken)
    {
        if (!await IsMountedAsync(cancellationToken) || !File.Exists(ImageFile))
            return false;
        await host.Shell.RunAsync("umount", [PoolPath], cancellationToken);
        return true;
    }

    private async Task<PoolKind> ChooseAsync(DriverChoice choice, CancellationToken cancellationToken)
    {
        if (choice == DriverChoice.Dir)
            return PoolKind.Dir;
        var fsType = await host.Shell.OutputAsync(HostCommand.Of("findmnt", "-n", "-o", "FSTYPE", "--target", stateDirectory), cancellationToken);
        // The host's btrfs is driven with btrfs-progs; without them, auto falls back like any host without btrfs.
        if (fsType == "btrfs" && host.HasProgram("btrfs"))
            return PoolKind.Btrfs;
        var hasBtrfs = (await host.Shell.RunAsync(HostCommand.Of("sh", "-c", "command -v mkfs.btrfs && grep -qw btrfs /proc/filesystems || modprobe btrfs").WithoutThrowing(), cancellationToken)).Succeeded;
        if (hasBtrfs)
            return PoolKind.BtrfsLoop;
        if (choice == DriverChoice.Btrfs)
            throw new SpawnlabException("the btrfs driver needs btrfs-progs and the btrfs kernel module; install btrfs-progs or use --driver dir");
        return PoolKind.Dir;
    }

    /// <summary>Whether what the pool holds can be seen: a loop-backed pool must be mounted for that; the others always can.</summary>
    public async Task<bool> IsReadableAsync(CancellationToken cancellationToken) =>
        !File.Exists(ImageFile) || await IsMountedAsync(cancellationToken);

    private async Task<bool> IsMountedAsync(CancellationToken cancellationToken) =>
        (await host.Shell.RunAsync(HostCommand.Of("findmnt", "-n", "--mountpoint", PoolPath).WithoutThrowing(), cancellationToken)).Succeeded;

    private async Task MountImageAsync(CancellationToken cancellationToken)
    {
        if (await IsMountedAsync(cancellationToken))
            return;
        if (!File.Exists(ImageFile))
        {
            // Made aside and renamed, so that an interrupted mkfs never leaves an image file that looks usable.
            var temporary = ImageFile + ".tmp";
            var size = Environment.GetEnvironmentVariable("SPAWNLAB_POOL_SIZE") ?? DefaultImageSize;
            await host.Shell.RunAsync("truncate", ["-s", size, temporary], cancellationToken);
            await host.Shell.RunAsync("mkfs.btrfs", ["-q", "-f", temporary], cancellationToken);
            File.Move(temporary, ImageFile);
        }
        await host.Shell.RunAsync("mount", ["-o", "loop,compress=zstd:1", ImageFile, PoolPath], cancellationToken);
    }
}

/// <summary>pool.json: what the pool is.</summary>
internal sealed record PoolRecord(PoolKind Kind);

/// <summary>What a pool is, as pool.json records it: the host's btrfs, a loop-mounted btrfs image file, or plain folders.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<PoolKind>))]
public enum PoolKind
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("btrfs")]
    Btrfs,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("btrfs-loop")]
    BtrfsLoop,

    [System.Text.Json.Serialization.JsonStringEnumMemberName("dir")]
    Dir,
}
