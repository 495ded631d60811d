using System.Net.Sockets;
using System.Text;

namespace Spawnlab.Host;

/// <summary>
/// A datagram socket where a supervisor (systemd-nspawn with --notify-ready=yes) says READY=1 when what it runs has
/// started (sd_notify): Spawnlab waits on it instead of asking. Under /run/spawnlab/notify, root's alone.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    public const string Folder = "/run/spawnlab/notify";

    private readonly Socket _socket;

    public string Path { get; }

    private NotifySocket(Socket socket, string path) => (_socket, Path) = (socket, path);

    /// <summary>A socket of this process named after <paramref name="name"/>, or null where none can be made (Spawnlab then asks instead).</summary>
    public static NotifySocket? TryBind(string name)
    {
        var path = System.IO.Path.Combine(Folder, $"{name}.{Environment.ProcessId}");
        if (Encoding.UTF8.GetByteCount(path) >= 108)
            return null;
        try
        {
            Directory.CreateDirectory(Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Delete(path);
            var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(path));
            return new NotifySocket(socket, path);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Until READY=1 comes (true), or <paramref name="alive"/> says the sender is gone or the time is up (false);
    /// <paramref name="alive"/> is asked every 100 ms in between.
    /// </summary>
    public async Task<bool> WaitReadyAsync(Func<bool> alive, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && alive())
        {
            using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            tick.CancelAfter(TimeSpan.FromMilliseconds(100));
            try
            {
                var received = await _socket.ReceiveAsync(buffer, SocketFlags.None, tick.Token);
                if (Encoding.UTF8.GetString(buffer, 0, received).Split('\n').Contains("READY=1"))
                    return true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
        }
        return false;
    }

    public void Dispose()
    {
        _socket.Dispose();
        File.Delete(Path);
    }
}
