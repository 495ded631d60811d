using System.Globalization;
using System.Text.Json.Nodes;
using Json.Schema;
using Spawnlab.Labs;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Spawnlab.Tests.Labs;

/// <summary>
/// The lab file's JSON Schema (schema/lab.schema.json) is what `spawnlab schema` prints from the parser's own key
/// definitions, every valid lab file validates against it, and every corpus file marked as a schema error fails it.
/// </summary>
public sealed class SchemaSpecs
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Corpus");

    /// <summary>The repository's folder, above the test binaries.</summary>
    private static string Repository()
    {
        var directory = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(directory, "schema")))
            directory = Path.GetDirectoryName(directory) ?? throw new InvalidOperationException("schema/ not found above the test binaries");
        return directory;
    }

    private static string SchemaFile => Path.Combine(Repository(), "schema", "lab.schema.json");

    /// <summary>Read once: the library registers a schema by its $id, and refuses a second one of the same.</summary>
    private static readonly Lazy<JsonSchema> Loaded = new(() => JsonSchema.FromText(File.ReadAllText(SchemaFile)));

    private static JsonSchema Schema => Loaded.Value;

    [Fact]
    public void The_schema_in_the_repository_is_the_one_the_parser_s_definitions_make() =>
        Assert.True(File.ReadAllText(SchemaFile) == LabSchema.Json(), "schema/lab.schema.json is out of date: run `spawnlab schema > schema/lab.schema.json`");

    public static TheoryData<string> ValidLabFiles() =>
        [.. Directory.GetFiles(Path.Combine(Repository(), "examples"), "lab.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(ValidLabFiles))]
    public void Every_example_is_valid_for_the_parser_and_the_schema(string file)
    {
        LabParser.ParseFile(file);
        var result = Schema.Evaluate(ToJson(File.ReadAllText(file)), new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, string.Join("\n", (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))));
    }

    [Fact]
    public void A_lab_that_uses_every_key_is_valid_for_the_schema()
    {
        var text = """
            lab: every
            vars: { a: 1 }
            ssh: { authorized_keys: [ ./id.pub ] }
            images:
              base: { bootstrap: debootstrap, suite: bookworm, mirror: http://deb.debian.org/debian, packages: [curl], setup: echo hi }
              root: { bootstrap: tarball, tarball: ./root.tar.zst }
              made: { bootstrap: command, command: ./make "$ROOT", inputs: [ ./make ] }
              web: { from: base, packages: [nginx-light], setup: ./setup.sh }
            networks:
              lan: { subnet: 10.0.0.0/24, host: 10.0.0.1, nat: true, dhcp: true, uplink: eth0, host_access: dhcp-dns, dns_forward: false, tftp: ./tftp, boot_file: boot.ipxe }
            machines:
              gw:
                image: base
                networks: { lan: { address: 10.0.0.2/24, gateway: 10.0.0.1 } }
                binds: [ "./data:/srv:ro" ]
                tmpfs: [ /var/tmp ]
                read_only: false
                forward: true
                private_users: true
                root_password_file: ./pw
                after: [ pc/boot ]
                groups: [ gateways ]
                vars: { role: gw }
                stages:
                  - name: one
                    files: { /etc/motd: ./motd }
                    host: echo host
                    run: echo run
                    ansible: { playbook: ./site.yml, tags: [ gw ], extra_vars: { x: 1 } }
                    after: [ pc/boot ]
                    timeout: 10m
                    checks:
                      - { service: nginx, timeout: 5s }
                      - { file: /etc/motd, contains: hi, non_empty: true }
                      - { command: "true", stdout: "" }
                      - { http: "http://localhost/", status: 200, contains: ok }
                      - { port: 53, proto: udp }
                      - { dns: gw.every, address: 10.0.0.2 }
                      - { ping: 10.0.0.1 }
                      - { console: "login:", send: "root\n" }
              pc:
                kind: vm
                boot: network
                memory: 512M
                cpus: 2
                disk: 2G
                networks: { lan: { dhcp: true } }
            """;
        Assert.True(Schema.Evaluate(ToJson(text)).IsValid);
    }

    public static TheoryData<string> SchemaErrors() =>
        [.. Directory.GetFiles(Corpus, "*.yaml").Where(f => File.ReadLines(f).Skip(1).FirstOrDefault() == "# schema: invalid").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void The_corpus_marks_its_schema_errors() => Assert.True(SchemaErrors().Count >= 12);

    [Theory]
    [MemberData(nameof(SchemaErrors))]
    public void A_corpus_file_that_is_a_schema_error_fails_the_schema(string file) =>
        Assert.False(Schema.Evaluate(ToJson(File.ReadAllText(Path.Combine(Corpus, file)))).IsValid);

    /// <summary>YAML as the YAML language server hands it to the schema: plain true/false/yes/no booleans, plain whole numbers, null.</summary>
    private static System.Text.Json.JsonElement ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return System.Text.Json.JsonSerializer.SerializeToElement(Convert(stream.Documents[0].RootNode));
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode mapping => new JsonObject(mapping.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Convert(c.Value)))),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(Convert)]),
        YamlScalarNode { Style: ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded } scalar => JsonValue.Create(scalar.Value),
        YamlScalarNode { Value: null or "" or "~" or "null" } => null,
        YamlScalarNode { Value: "true" or "True" or "TRUE" or "yes" } => JsonValue.Create(true),
        YamlScalarNode { Value: "false" or "False" or "FALSE" or "no" } => JsonValue.Create(false),
        YamlScalarNode scalar when long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => null,
    };
}

/// <summary>A machine's kind is a word in JSON; states written before, with a number, still read.</summary>
public sealed class MachineKindJsonSpecs
{
    [Fact]
    public void A_kind_is_written_as_a_word_and_read_from_a_word_or_a_number()
    {
        Assert.Equal("\"vm\"", System.Text.Json.JsonSerializer.Serialize(MachineKind.Vm));
        Assert.Equal(MachineKind.Vm, System.Text.Json.JsonSerializer.Deserialize<MachineKind>("1"));
        Assert.Equal(MachineKind.Container, System.Text.Json.JsonSerializer.Deserialize<MachineKind>("\"container\""));
    }
}
