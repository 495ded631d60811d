using System.Text;

namespace Spawnlab.Host;

/// <summary>
/// What a command prints, kept up to a bound and the rest counted and dropped: a check whose command prints 900 MB
/// must not take the CLI's memory with it. The command still reads to its end, so it is never blocked on a full pipe.
/// </summary>
public sealed class BoundedOutput(int limit = BoundedOutput.DefaultLimit) : Stream
{
    public const int DefaultLimit = 4 * 1024 * 1024;

    private readonly MemoryStream _kept = new();

    /// <summary>How many bytes were dropped past the bound.</summary>
    public long Dropped { get; private set; }

    public override string ToString() =>
        Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length) + (Dropped > 0 ? $"\n[spawnlab: {Dropped} more bytes of output dropped]\n" : "");

    public override void Write(byte[] buffer, int offset, int count)
    {
        var room = (int)Math.Min(count, limit - _kept.Length);
        _kept.Write(buffer, offset, room);
        Dropped += count - room;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.ToArray(), 0, buffer.Length);
        return ValueTask.CompletedTask;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _kept.Length + Dropped;
    public override long Position { get => Length; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _kept.Dispose();
        base.Dispose(disposing);
    }
}
