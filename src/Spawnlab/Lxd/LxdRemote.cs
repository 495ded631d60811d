using System.Security.Cryptography.X509Certificates;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Lxd;

/// <summary>
/// A remote of the lxc client (`lxc remote add NAME https://HOST:8443`), read from the client's configuration: its
/// address, the client certificate the daemon trusts, and the server certificate the client pinned when it added it.
/// A lab names it (`lxd: { remote: NAME }`), so that Spawnlab reaches a remote daemon or a cluster as lxc does.
/// </summary>
public sealed record LxdRemote(string Name, Uri Address, string ClientCertificate, string ClientKey, string? ServerCertificate)
{
    /// <summary>The lxc client's folder: $LXD_CONF, else the snap's, else ~/.config/lxc.</summary>
    public static string ConfigDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("LXD_CONF") is { Length: > 0 } configured)
                return configured;
            var home = Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } h ? h : "/root";
            var snap = Path.Combine(home, "snap/lxd/common/config");
            return Directory.Exists(snap) ? snap : Path.Combine(home, ".config/lxc");
        }
    }

    /// <summary>The remote of that name, or why it cannot be used.</summary>
    public static LxdRemote Find(string name)
    {
        var directory = ConfigDirectory;
        var config = Path.Combine(directory, "config.yml");
        if (!File.Exists(config))
            throw new SpawnlabException($"lxd remote '{name}': the lxc client has no configuration ({config}); add the remote with `lxc remote add {name} https://HOST:8443`");
        var yaml = new YamlStream();
        using (var reader = new StreamReader(config))
            yaml.Load(reader);
        var remotes = yaml.Documents.FirstOrDefault()?.RootNode is YamlMappingNode root && root.Children.TryGetValue(new YamlScalarNode("remotes"), out var node)
            ? node as YamlMappingNode
            : null;
        if (remotes?.Children.TryGetValue(new YamlScalarNode(name), out var remoteNode) != true || remoteNode is not YamlMappingNode remote)
            throw new SpawnlabException($"lxd remote '{name}': the lxc client ({config}) has no remote of that name (`lxc remote list`)");
        string? Field(string key) => remote.Children.TryGetValue(new YamlScalarNode(key), out var value) ? (value as YamlScalarNode)?.Value : null;
        if (Field("protocol") is { } protocol && protocol != "lxd")
            throw new SpawnlabException($"lxd remote '{name}' is a {protocol} image server, not an LXD daemon");
        if (Field("addr") is not { } address || !address.StartsWith("https://", StringComparison.Ordinal) || !Uri.TryCreate(address, UriKind.Absolute, out var uri))
            throw new SpawnlabException($"lxd remote '{name}' has the address '{Field("addr")}'; a remote is reached by https:// (name a local daemon by its socket instead)");
        var certificate = Path.Combine(directory, "client.crt");
        var key = Path.Combine(directory, "client.key");
        if (!File.Exists(certificate) || !File.Exists(key))
            throw new SpawnlabException($"lxd remote '{name}': the lxc client has no certificate ({certificate}); `lxc remote add` makes it");
        var server = Path.Combine(directory, "servercerts", $"{name}.crt");
        return new LxdRemote(name, uri, certificate, key, File.Exists(server) ? server : null);
    }

    /// <summary>Whether the server's certificate is the one the client pinned (or, with none pinned, one the system trusts).</summary>
    public bool Accepts(X509Certificate? presented, System.Net.Security.SslPolicyErrors errors)
    {
        if (ServerCertificate is null)
            return errors == System.Net.Security.SslPolicyErrors.None;
        if (presented is null)
            return false;
        // The certificate alone (CreateFromPemFile would look for a private key in the same file).
        using var pinned = X509Certificate2.CreateFromPem(File.ReadAllText(ServerCertificate));
        return pinned.RawData.AsSpan().SequenceEqual(presented.GetRawCertData());
    }
}
