namespace Spawnlab.Pool;

/// <summary>
/// What to tell a user whose pool ran out of space. Right after a down or a restore, retrying at once may fail again:
/// btrfs frees the space of deleted subvolumes in the background, some 20 s later.
/// </summary>
public static class PoolSpace
{
    private const string NoSpace = "No space left on device";

    public const string Advice =
        "the pool is full. btrfs frees the space of deleted roots in the background, up to half a minute after `down` or " +
        "`restore`: `btrfs subvolume sync STATE_DIR/pool` waits for it. Then retry, or remove labs or images " +
        "(`down --purge`), or make a new pool larger (SPAWNLAB_POOL_SIZE)";

    /// <summary>The message, with the advice when it says the disk was full.</summary>
    public static string WithAdvice(string message) =>
        message.Contains(NoSpace, StringComparison.Ordinal) ? $"{message}{Environment.NewLine}{Advice}" : message;
}
