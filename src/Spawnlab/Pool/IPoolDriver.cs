namespace Spawnlab.Pool;

/// <summary>How roots are made, copied and removed inside the pool: btrfs subvolumes or plain directories.</summary>
public interface IPoolDriver
{
    string Name { get; }

    Task CreateAsync(string path, CancellationToken cancellationToken);

    /// <summary>A copy of <paramref name="source"/> at <paramref name="target"/>; on btrfs a snapshot, in constant time.</summary>
    Task CloneAsync(string source, string target, bool readOnly, CancellationToken cancellationToken);

    /// <summary>Removes a root and everything below it; a root already gone is not an error.</summary>
    Task DeleteAsync(string path, CancellationToken cancellationToken);
}
