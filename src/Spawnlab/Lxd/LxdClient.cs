using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Spawnlab.Lxd;

/// <summary>
/// LXD's (or Incus's) REST API over its unix socket: requests whose answers are JSON, background operations waited
/// for, and files and images sent as bodies. Only what Spawnlab needs; everything is JSON nodes, so that the native
/// CLI needs no reflection.
/// </summary>
public sealed class LxdClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Where the daemon is: its unix socket, or a remote's HTTPS address.</summary>
    public string Socket { get; }

    /// <summary>The client of a lab's daemon: its unix socket, or the lxc remote it names.</summary>
    public static LxdClient For(State.LxdPlace place) => place.Remote is { } remote ? new LxdClient(LxdRemote.Find(remote)) : new LxdClient(place.Socket);

    /// <summary>For a remote: the server certificate the lxc client pinned, named when the daemon presents another.</summary>
    private readonly string? _pinned;

    /// <summary>A remote daemon or cluster over HTTPS, authenticated by the lxc client's certificate.</summary>
    public LxdClient(LxdRemote remote)
    {
        Socket = remote.Address.ToString();
        _pinned = remote.ServerCertificate;
        var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(remote.ClientCertificate, remote.ClientKey);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, presented, _, errors) => remote.Accepts(presented, errors),
            },
        };
        _http = new HttpClient(handler) { BaseAddress = remote.Address, Timeout = Timeout.InfiniteTimeSpan };
    }

    public LxdClient(string socket)
    {
        Socket = socket;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var unix = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await unix.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                    return new NetworkStream(unix, ownsSocket: true);
                }
                catch
                {
                    unix.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://lxd"), Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>
    /// The socket the <c>lxc</c> client would use: <c>$LXD_DIR/unix.socket</c>, else the snap's, else the package's
    /// (Incus's the same way, through <c>INCUS_DIR</c>).
    /// </summary>
    /// <summary>Whether a lab's `lxd: remote:` names a unix socket (a path, or unix://PATH) rather than an lxc remote.</summary>
    public static bool IsSocket(string remote) => remote.StartsWith('/') || remote.StartsWith("unix://", StringComparison.Ordinal);

    public static string? FindSocket(string? configured)
    {
        if (configured is not null)
            return configured.StartsWith("unix://", StringComparison.Ordinal) ? configured["unix://".Length..] : configured;
        string?[] candidates =
        [
            Environment.GetEnvironmentVariable("LXD_DIR") is { Length: > 0 } lxdDir ? Path.Combine(lxdDir, "unix.socket") : null,
            "/var/snap/lxd/common/lxd/unix.socket",
            "/var/lib/lxd/unix.socket",
            Environment.GetEnvironmentVariable("INCUS_DIR") is { Length: > 0 } incusDir ? Path.Combine(incusDir, "unix.socket") : null,
            "/var/lib/incus/unix.socket",
        ];
        return candidates.FirstOrDefault(c => c is not null && File.Exists(c));
    }

    /// <summary>An API path with the project it is asked in (?project= or &amp;project=).</summary>
    public static string InProject(string path, string? project = null) =>
        project is null ? path : $"{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}project={Uri.EscapeDataString(project)}";

    /// <summary>The metadata of a GET; null when the object does not exist.</summary>
    public async Task<JsonNode?> GetOrNullAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(HttpMethod.Get, path, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return null;
        return await MetadataAsync(response, $"GET {path}", cancellationToken);
    }

    public async Task<JsonNode?> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(HttpMethod.Get, path, null, cancellationToken);
        return await MetadataAsync(response, $"GET {path}", cancellationToken);
    }

    /// <summary>A request with a JSON body; a background operation is waited for. Returns the (operation's) metadata.</summary>
    public Task<JsonNode?> SendAsync(HttpMethod method, string path, JsonNode? body, CancellationToken cancellationToken) =>
        SendAsync(method, path, body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken);

    /// <summary>As <see cref="SendAsync(HttpMethod, string, JsonNode?, CancellationToken)"/>; a DELETE of what is not there is not an error.</summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await SendAsync(HttpMethod.Delete, path, (HttpContent?)null, cancellationToken);
        }
        catch (LxdException e) when (e.Status == HttpStatusCode.NotFound)
        {
        }
    }

    public async Task<JsonNode?> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(method, path, content, cancellationToken);
        var what = $"{method} {path}";
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var json = Parse(text, what);
        if (json?["type"]?.GetValue<string>() != "async")
            return Metadata(json, response.StatusCode, what);
        var operation = json["operation"]?.GetValue<string>() ?? throw new LxdException($"{what}: LXD answered an operation without its address", response.StatusCode);
        return await WaitAsync(operation, what, cancellationToken);
    }

    /// <summary>Waits for a background operation and returns its metadata, or throws its error.</summary>
    private async Task<JsonNode?> WaitAsync(string operation, string what, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var response = await SendRawAsync(HttpMethod.Get, $"{operation}/wait?timeout=30", null, cancellationToken);
            var node = await MetadataAsync(response, what, cancellationToken);
            var status = node?["status_code"]?.GetValue<int>() ?? 0;
            if (status == 200)
                return node?["metadata"];
            if (status >= 400)
                throw new LxdException($"{what}: {node?["err"]?.GetValue<string>() ?? node?["status"]?.GetValue<string>()}", (HttpStatusCode)status);
        }
    }

    /// <summary>Writes a file into an instance (running or not), as root, with the given mode; or a symbolic link to <paramref name="linkTarget"/>.</summary>
    public Task PushFileAsync(string project, string instance, string path, byte[] content, string mode, string? linkTarget, CancellationToken cancellationToken)
    {
        var body = new ByteArrayContent(linkTarget is null ? content : Encoding.UTF8.GetBytes(linkTarget));
        body.Headers.Add("X-LXD-uid", "0");
        body.Headers.Add("X-LXD-gid", "0");
        body.Headers.Add("X-LXD-mode", mode);
        body.Headers.Add("X-LXD-type", linkTarget is null ? "file" : "symlink");
        body.Headers.Add("X-LXD-write", "overwrite");
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return SendAsync(HttpMethod.Post, InProject($"/1.0/instances/{instance}/files?path={Uri.EscapeDataString(path)}", project), body, cancellationToken);
    }

    /// <summary>Makes a folder in an instance (running or not), owned by root; one that exists is left as it is.</summary>
    public async Task PushDirectoryAsync(string project, string instance, string path, CancellationToken cancellationToken)
    {
        var body = new ByteArrayContent([]);
        body.Headers.Add("X-LXD-uid", "0");
        body.Headers.Add("X-LXD-gid", "0");
        body.Headers.Add("X-LXD-mode", "0755");
        body.Headers.Add("X-LXD-type", "directory");
        try
        {
            await SendAsync(HttpMethod.Post, InProject($"/1.0/instances/{instance}/files?path={Uri.EscapeDataString(path)}", project), body, cancellationToken);
        }
        catch (LxdException e) when (e.Message.Contains("exists", StringComparison.OrdinalIgnoreCase))
        {
        }
    }

    /// <summary>Imports a unified image tarball (metadata.yaml and rootfs/); returns its fingerprint.</summary>
    public async Task<string> ImportImageAsync(string tarball, IReadOnlyDictionary<string, string> properties, CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(tarball);
        var body = new StreamContent(file);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        body.Headers.Add("X-LXD-properties", string.Join('&', properties.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}")));
        var metadata = await SendAsync(HttpMethod.Post, "/1.0/images", body, cancellationToken);
        return metadata?["fingerprint"]?.GetValue<string>() ?? throw new LxdException("image import: LXD gave no fingerprint", HttpStatusCode.OK);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.SendAsync(new HttpRequestMessage(method, path) { Content = content }, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            var why = Socket.StartsWith('/') && !File.Exists(Socket) ? "the socket does not exist (is the daemon running?)"
                : e.InnerException is System.Security.Authentication.AuthenticationException ? $"its certificate is not the one the lxc client pinned for it ({_pinned ?? "none pinned, and the system does not trust it"})"
                : e.InnerException?.Message ?? e.Message;
            throw new LxdException($"no LXD daemon answers on {Socket}: {why}", HttpStatusCode.ServiceUnavailable);
        }
    }

    private static async Task<JsonNode?> MetadataAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken) =>
        Metadata(Parse(await response.Content.ReadAsStringAsync(cancellationToken), what), response.StatusCode, what);

    private static JsonNode? Parse(string text, string what)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            throw new LxdException($"{what}: LXD answered what is not JSON: {text[..Math.Min(text.Length, 200)]}", HttpStatusCode.BadGateway);
        }
    }

    private static JsonNode? Metadata(JsonNode? json, HttpStatusCode status, string what)
    {
        if (json?["type"]?.GetValue<string>() == "error" || (int)status >= 400)
            throw new LxdException($"{what}: {json?["error"]?.GetValue<string>() ?? status.ToString()}", status);
        return json?["metadata"];
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>An error LXD answered, with its HTTP status.</summary>
public sealed class LxdException(string message, HttpStatusCode status) : SpawnlabException(message)
{
    public HttpStatusCode Status { get; } = status;
}
