using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spawnlab.Host;

namespace Spawnlab.Machines;

/// <summary>
/// QEMU's guest agent (qemu-guest-agent inside an image-booted VM) on its virtio-serial port, as a host socket: runs
/// commands (guest-exec, then guest-exec-status until it exited) and flushes the guest's filesystems. One client at a
/// time per socket, as the agent's channel allows.
/// </summary>
public sealed class GuestAgent(string socketPath)
{
    private static readonly Dictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    private SemaphoreSlim Gate
    {
        get
        {
            lock (Gates)
                return Gates.TryGetValue(socketPath, out var gate) ? gate : Gates[socketPath] = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>Whether the agent answers (the VM booted far enough to start it).</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await CallAsync("guest-ping", null, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or SpawnlabException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Runs a program inside with a clean environment, its input given; returns its exit code and output.</summary>
    public async Task<HostResult> ExecAsync(IReadOnlyList<string> command, byte[] input, CancellationToken cancellationToken)
    {
        var started = await CallAsync("guest-exec", new JsonObject
        {
            ["path"] = command[0],
            ["arg"] = new JsonArray([.. command.Skip(1).Select(a => (JsonNode)a)]),
            ["env"] = new JsonArray([.. NspawnRuntime.ExecEnvironment.Select(e => (JsonNode)e)]),
            ["input-data"] = Convert.ToBase64String(input),
            ["capture-output"] = true,
        }, cancellationToken);
        var pid = started!["pid"]!.GetValue<long>();
        while (true)
        {
            var status = await CallAsync("guest-exec-status", new JsonObject { ["pid"] = pid }, cancellationToken);
            if (status!["exited"]!.GetValue<bool>())
            {
                static string Text(JsonNode? data) => data is null ? "" : Encoding.UTF8.GetString(Convert.FromBase64String(data.GetValue<string>()));
                var code = status["exitcode"]?.GetValue<int>() ?? 128 + (status["signal"]?.GetValue<int>() ?? 0);
                return new HostResult(code, Text(status["out-data"]), Text(status["err-data"]));
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>Flushes the guest's filesystems, so that its disk file holds what it wrote.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken) =>
        await ExecAsync(["/bin/sync"], [], cancellationToken);

    private async Task<JsonNode?> CallAsync(string command, JsonObject? arguments, CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken);
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            // guest-sync first: whatever an earlier client left unread in the channel is skipped up to its answer.
            var id = Random.Shared.NextInt64(1, long.MaxValue);
            await SendAsync(stream, new JsonObject { ["execute"] = "guest-sync", ["arguments"] = new JsonObject { ["id"] = id } }, cancellationToken);
            var expected = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            JsonNode? answer;
            do
            {
                answer = await ReadAsync(reader, cancellationToken) ?? throw new SpawnlabException("the guest agent closed its channel");
            }
            while (answer["return"]?.ToJsonString() != expected);
            var request = new JsonObject { ["execute"] = command };
            if (arguments is not null)
                request["arguments"] = arguments;
            await SendAsync(stream, request, cancellationToken);
            var reply = await ReadAsync(reader, cancellationToken) ?? throw new SpawnlabException($"the guest agent closed its channel during {command}");
            if (reply["error"] is { } error)
                throw new SpawnlabException($"the guest agent refused {command}: {error["desc"]}");
            return reply["return"];
        }
        finally
        {
            Gate.Release();
        }
    }

    private static Task SendAsync(Stream stream, JsonObject request, CancellationToken cancellationToken) =>
        stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToJsonString() + "\n"), cancellationToken).AsTask();

    private static async Task<JsonNode?> ReadAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            // A 0xff byte may precede guest-sync-delimited answers; lines are JSON objects.
            var text = line.Trim('\xff', ' ', '\r');
            if (text.Length > 0)
                return JsonNode.Parse(text);
        }
        return null;
    }
}
