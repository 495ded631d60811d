namespace Spawnlab.Labs;

/// <summary>One ordered setup step of a machine: files copied in, a host script, a script inside, then checks.</summary>
public sealed record StageDefinition(
    string Name,
    IReadOnlyList<FileCopy> Files,
    string? Host,
    string? Run,
    IReadOnlyList<CheckDefinition> Checks)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(30);

    /// <summary>Stages of other machines this stage waits for.</summary>
    public IReadOnlyList<StageRef> After { get; init; } = [];

    /// <summary>How long its copies and scripts may take together (its checks have their own timeouts).</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>A playbook run against the machine instead of a script.</summary>
    public AnsibleStage? Ansible { get; init; }
}

/// <summary>An `ansible:` stage: a playbook (absolute; as written in the lab file) with its tags and extra vars.</summary>
public sealed record AnsibleStage(string Playbook, string PlaybookAsWritten, IReadOnlyList<string> Tags, System.Text.Json.Nodes.JsonObject ExtraVars);

/// <summary>A file or folder of the host (resolved against the lab file's folder) copied to a path inside the machine.</summary>
public sealed record FileCopy(string MachinePath, string Source, string SourceAsWritten);

public enum CheckKind
{
    Service,
    File,
    Command,
    Http,
    Port,
    Dns,
    Ping,
    Console,
}

/// <summary>An assertion about a machine, run inside it and retried until its timeout.</summary>
public sealed record CheckDefinition(CheckKind Kind, string Target, TimeSpan Timeout)
{
    public string? Contains { get; init; }
    public bool NonEmpty { get; init; }
    public string? Stdout { get; init; }
    public int Status { get; init; } = 200;
    public string Proto { get; init; } = "tcp";
    public string? Address { get; init; }

    /// <summary>For a console check: text typed on the VM's serial console once the match is seen.</summary>
    public string? Send { get; init; }

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    public string Describe() => Kind switch
    {
        CheckKind.Service => $"service {Target} is enabled and active",
        CheckKind.File => $"file {Target}" + (Contains is not null ? $" contains '{Contains}'" : NonEmpty ? " is not empty" : " exists"),
        CheckKind.Command => $"command `{Target}` succeeds" + (Stdout is not null ? $" with output matching /{Stdout}/" : ""),
        CheckKind.Http => $"http {Target} answers {Status}" + (Contains is not null ? $" with '{Contains}'" : ""),
        CheckKind.Port => $"port {Target}/{Proto} is open",
        CheckKind.Dns => $"dns {Target} resolves" + (Address is not null ? $" to {Address}" : ""),
        CheckKind.Ping => $"ping {Target}",
        CheckKind.Console => $"console shows /{Target}/" + (Send is not null ? $", then types {System.Text.Json.Nodes.JsonValue.Create(Send).ToJsonString()}" : ""),
        _ => Target,
    };
}
