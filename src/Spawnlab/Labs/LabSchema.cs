using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spawnlab.Labs;

/// <summary>
/// The keys of the lab file and what each holds: what the parser accepts (its mappings take exactly these keys) and
/// what `spawnlab schema` writes as a JSON Schema for editors (the YAML language server). The parser checks more
/// than a schema can say (addresses, references, cycles); the schema says nothing the parser does not.
/// </summary>
public static class LabSchema
{
    /// <summary>A kind of value.</summary>
    public abstract record Value(string Description)
    {
        public abstract JsonObject ToSchema();

        protected JsonObject Described(JsonObject schema)
        {
            if (Description.Length > 0)
                schema["description"] = Description;
            return schema;
        }
    }

    /// <summary>Any scalar, read as text (as the parser's strings: numbers and booleans are text too).</summary>
    public sealed record Text(string Description, params string[] Choices) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(Choices.Length > 0
            ? new JsonObject { ["enum"] = new JsonArray([.. Choices.Select(c => (JsonNode)c)]) }
            : new JsonObject { ["type"] = new JsonArray("string", "number", "boolean") });
    }

    /// <summary>A duration: 30s, 500ms, 2m, 1h.</summary>
    public sealed record Duration(string Description) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(new JsonObject { ["type"] = "string", ["pattern"] = @"^[0-9]+(\.[0-9]+)?(ms|s|m|h)$" });
    }

    public sealed record Flag(string Description) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(new JsonObject { ["type"] = "boolean" });
    }

    public sealed record Number(string Description, int Minimum, int Maximum) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(new JsonObject { ["type"] = "integer", ["minimum"] = Minimum, ["maximum"] = Maximum });
    }

    public sealed record ListOf(Value Item, string Description) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(new JsonObject { ["type"] = "array", ["items"] = Item.ToSchema() });
    }

    /// <summary>A mapping whose keys the user chooses (machines, networks, files, vars); null for any value.</summary>
    public sealed record Named(Value? Item, string Description) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(new JsonObject { ["type"] = "object", ["additionalProperties"] = Item?.ToSchema() ?? new JsonObject() });
    }

    /// <summary>A mapping of fixed keys; no other key is allowed.</summary>
    public sealed record Shape(string Description, IReadOnlyList<(string Key, Value Value)> Fields, params string[] Required) : Value(Description)
    {
        /// <summary>The keys the parser accepts.</summary>
        public string[] Keys => [.. Fields.Select(f => f.Key)];

        public override JsonObject ToSchema() => Described(new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject(Fields.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value.ToSchema()))),
            ["required"] = new JsonArray([.. Required.Select(r => (JsonNode)r)]),
            ["additionalProperties"] = false,
        });
    }

    /// <summary>One of several shapes (a check: exactly one kind).</summary>
    public sealed record OneOf(string Description, IReadOnlyList<Shape> Shapes) : Value(Description)
    {
        public override JsonObject ToSchema() => Described(new JsonObject { ["oneOf"] = new JsonArray([.. Shapes.Select(s => (JsonNode)s.ToSchema())]) });
    }

    private static readonly Text Name = new("");
    private static readonly ListOf Names = new(Name, "");

    public static readonly Shape Image = new("An image: made once, stored read-only in the pool, shared by machines", [
        ("bootstrap", new Text("How the image is made (default debootstrap; leave it out with from:)", "debootstrap", "tarball", "command")),
        ("suite", new Text("debootstrap: the Debian suite (default bookworm)")),
        ("mirror", new Text("debootstrap: an http, https or file URL (default: the host's apt source)")),
        ("packages", new ListOf(Name, "debootstrap and from: Debian packages baked into the image")),
        ("setup", new Text("A script run once in the new image (not booted), or ./FILE holding it")),
        ("tarball", new Text("tarball: a .tar, .tar.gz, .tgz, .tar.xz or .tar.zst holding the root")),
        ("command", new Text("command: a shell command run on the host that fills $ROOT")),
        ("inputs", new ListOf(Name, "command: files and folders whose content is part of the image's key")),
        ("from", new Text("The image this one is a snapshot of, plus packages and setup")),
    ]);

    public static readonly Shape Network = new("A network: a bridge of the host, with its address on it", [
        ("subnet", new Text("An IPv4 subnet, such as 10.224.0.0/24")),
        ("host", new Text("The host's address on the bridge")),
        ("nat", new Flag("Masquerade the subnet towards the uplink")),
        ("dhcp", new Flag("The host serves DHCP and DNS on the network")),
        ("uplink", new Text("The host interface NAT goes out of (default: that of the default route)")),
        ("host_access", new Text("What machines reach of the host", "all", "dhcp-dns", "none")),
        ("dns_forward", new Flag("The host's DNS answers other names too (default: with nat)")),
        ("tftp", new Text("A folder of the lab the host's dnsmasq serves by TFTP")),
        ("boot_file", new Text("What the host's DHCP tells iPXE to boot, in tftp")),
    ], "subnet");

    public static readonly Shape Attachment = new("A machine on a network", [
        ("address", new Text("Its address, such as 10.224.0.10/24")),
        ("gateway", new Text("Its default route")),
        ("dhcp", new Flag("It takes a lease")),
    ]);

    public static readonly Shape Ansible = new("A playbook run against the machine", [
        ("playbook", new Text("A playbook of the lab's folder")),
        ("tags", new ListOf(Name, "Only the tasks with these tags")),
        ("extra_vars", new Named(null, "Extra vars")),
    ], "playbook");

    /// <summary>The check kinds and the options each takes besides timeout.</summary>
    public static readonly IReadOnlyDictionary<string, (CheckKind Kind, IReadOnlyList<(string Key, Value Value)> Options)> CheckKinds =
        new Dictionary<string, (CheckKind, IReadOnlyList<(string, Value)>)>(StringComparer.Ordinal)
        {
            ["service"] = (CheckKind.Service, []),
            ["file"] = (CheckKind.File, [("contains", new Text("Text the file holds")), ("non_empty", new Flag("The file is not empty"))]),
            ["command"] = (CheckKind.Command, [("stdout", new Text("A regular expression its output matches"))]),
            ["http"] = (CheckKind.Http, [("status", new Number("The status expected", 100, 599)), ("contains", new Text("Text the body holds"))]),
            ["port"] = (CheckKind.Port, [("proto", new Text("", "tcp", "udp"))]),
            ["dns"] = (CheckKind.Dns, [("address", new Text("The address the name resolves to"))]),
            ["ping"] = (CheckKind.Ping, []),
            ["console"] = (CheckKind.Console, [("send", new Text("Text typed on the console once the match is seen"))]),
        };

    public static readonly OneOf Check = new("A check: exactly one kind", [.. CheckKinds.Select(kind => new Shape(
        $"A {kind.Key} check", [(kind.Key, new Text("")), ("timeout", new Duration("How long it may take to pass")), .. kind.Value.Options], kind.Key))]);

    public static readonly Shape Stage = new("A stage: files, a host script, a script inside, a playbook, then checks; snapshotted", [
        ("name", new Text("The stage's name")),
        ("files", new Named(new Text(""), "Machine path: host path (relative to the lab file)")),
        ("host", new Text("A script run on the host with $ROOT and $MACHINE")),
        ("run", new Text("A script run inside the machine")),
        ("ansible", Ansible),
        ("checks", new ListOf(Check, "Checks run after the stage")),
        ("after", new ListOf(Name, "MACHINE/STAGE this stage waits for")),
        ("timeout", new Duration("How long the stage may take")),
    ], "name");

    public static readonly Shape Machine = new("A machine: a container (default) or a VM", [
        ("image", new Text("The image its root is a clone of")),
        ("networks", new Named(Attachment, "The networks it is on")),
        ("binds", new ListOf(Name, "HOST:MACHINE[:ro] folders bound into it (@MACHINE: another machine's root)")),
        ("tmpfs", new ListOf(Name, "Folders that are a tmpfs")),
        ("read_only", new Flag("Its root is read-only")),
        ("forward", new Flag("It routes between its networks")),
        ("private_users", new Flag("It runs in a user namespace of its own (default true)")),
        ("root_password_file", new Text("A file holding root's password")),
        ("full_boot", new Flag("It boots every unit its image enables; by default a container boots lean (default false)")),
        ("after", new ListOf(Name, "MACHINE/STAGE its boot waits for")),
        ("stages", new ListOf(Stage, "Its stages, in order")),
        ("groups", new ListOf(Name, "Ansible groups")),
        ("vars", new Named(null, "Ansible host vars")),
        ("kind", new Text("", "container", "vm")),
        ("boot", new Text("vm: from the network or its image (default)", "network", "image")),
        ("memory", new Text("vm: memory such as 512M")),
        ("cpus", new Number("vm: CPUs", 1, 64)),
        ("disk", new Text("vm: the size of its disk, such as 2G")),
    ]);

    public static readonly Shape Ssh = new("SSH into the machines", [("authorized_keys", new ListOf(Name, "Public key files that may log in as root"))], "authorized_keys");

    public static readonly Shape Lxd = new("engine: lxd: the daemon and project", [
        ("remote", new Text("The daemon's unix socket (PATH or unix://PATH), or the name of an lxc remote (HTTPS, a cluster); default: $LXD_DIR/unix.socket, else the usual paths")),
        ("project", new Text("The LXD project of the lab's instances; default: spawnlab-LAB")),
    ]);

    public static readonly Shape Lab = new("A Spawnlab lab file", [
        ("lab", new Text("The lab's name: a lowercase letter, then lowercase letters, digits or '-', at most 20")),
        ("images", new Named(Image, "Images by name")),
        ("networks", new Named(Network, "Networks by name (also the interface name inside machines)")),
        ("machines", new Named(Machine, "Machines by name (their hostnames)")),
        ("vars", new Named(null, "Ansible vars of every machine")),
        ("ssh", Ssh),
        ("engine", new Text("What runs the machines: this host's systemd-nspawn (default) or an LXD/Incus daemon", "nspawn", "lxd")),
        ("lxd", Lxd),
    ], "lab", "machines");

    /// <summary>The lab file's JSON Schema.</summary>
    public static string Json()
    {
        var schema = Lab.ToSchema();
        schema.Insert(0, "$schema", "http://json-schema.org/draft-07/schema#");
        schema.Insert(1, "$id", "https://spawnlab.invalid/lab.schema.json");
        schema.Insert(2, "title", "Spawnlab lab file");
        return schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }
}
