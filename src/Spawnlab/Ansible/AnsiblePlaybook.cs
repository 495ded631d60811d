using System.Text.RegularExpressions;
using Spawnlab.Host;
using Spawnlab.Labs;

namespace Spawnlab.Ansible;

/// <summary>An `ansible:` stage's run of ansible-playbook on the host, against one machine, and what its output says.</summary>
public static partial class AnsiblePlaybook
{
    /// <summary>
    /// ansible-playbook limited to the machine, from the playbook's folder (so that its ansible.cfg counts), with
    /// Spawnlab's collection found first, plain output, and pipelining (one entry into the machine per task).
    /// </summary>
    public static HostCommand Command(AnsibleStage stage, string inventory, string machine, string collections)
    {
        var arguments = new List<string> { "-i", inventory, "--limit", machine };
        if (stage.Tags.Count > 0)
            arguments.AddRange(["--tags", string.Join(',', stage.Tags)]);
        if (stage.ExtraVars.Count > 0)
            arguments.AddRange(["--extra-vars", stage.ExtraVars.ToJsonString()]);
        arguments.Add(stage.Playbook);
        return HostCommand.Of("ansible-playbook", arguments)
            .WithWorkingDirectory(Path.GetDirectoryName(stage.Playbook)!)
            .WithEnvironment("ANSIBLE_COLLECTIONS_PATH", $"{collections}:~/.ansible/collections:{AnsibleCollection.SystemCollections}")
            .WithEnvironment("ANSIBLE_NOCOLOR", "1")
            .WithEnvironment("ANSIBLE_FORCE_COLOR", "0")
            .WithEnvironment("ANSIBLE_HOST_KEY_CHECKING", "False")
            .WithEnvironment("ANSIBLE_RETRY_FILES_ENABLED", "False")
            .WithEnvironment("ANSIBLE_PIPELINING", "True")
            .WithEnvironment("PYTHONUNBUFFERED", "1")
            .WithStandardInput("");
    }

    /// <summary>The task that failed and on which host, with Ansible's message, from a playbook's output; null if none is named.</summary>
    public static string? Failure(string output)
    {
        string? task = null;
        foreach (var line in output.Split('\n'))
        {
            if (TaskLine().Match(line) is { Success: true } started)
                task = started.Groups[1].Value;
            else if (FailedLine().Match(line) is { Success: true } failed)
                return $"task '{task ?? "?"}' failed on {failed.Groups[1].Value}: {Message(failed.Groups[2].Value)}";
        }
        return null;
    }

    /// <summary>Ansible's "msg" out of the JSON it prints after FAILED! =>, else that JSON cut short.</summary>
    private static string Message(string json)
    {
        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(json) is System.Text.Json.Nodes.JsonObject result && result["msg"] is { } message)
                return message.ToString();
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return OutputTail.Of(json, 1, 300);
    }

    [GeneratedRegex(@"^(?:TASK|RUNNING HANDLER) \[(.+?)\] \**\s*$")]
    private static partial Regex TaskLine();

    [GeneratedRegex(@"^(?:fatal|failed): \[([^\]]+)\](?: \(item=.*?\))?:? (?:(?:FAILED!|UNREACHABLE!) )?=> (.*)$")]
    private static partial Regex FailedLine();
}
