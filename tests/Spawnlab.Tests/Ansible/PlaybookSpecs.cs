using Spawnlab.Ansible;
using Spawnlab.Labs;
using Spawnlab.Stages;
using Spawnlab.Tests.Labs;

namespace Spawnlab.Tests.Ansible;

/// <summary>What an `ansible:` stage's key covers, and what a playbook's output says when it fails.</summary>
public sealed class PlaybookSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public PlaybookSpecs()
    {
        _files.Write("""
            - hosts: webservers:&lab_lan
              roles: [web]
            - hosts: dbservers
              roles:
                - role: db
            - hosts: all:!dbservers
              tasks:
                - include_role: { name: tools }
                - include_tasks: extra.yml
            - import_playbook: more.yml
            """, "ansible/site.yml");
        _files.Write("- hosts: web*\n  roles: [monitoring]\n", "ansible/more.yml");
        _files.Write("- debug: msg=extra\n", "ansible/extra.yml");
        _files.Write("- debug: msg=other\n", "ansible/unrelated.yml");
        _files.Write("[defaults]\nforks = 5\n", "ansible/ansible.cfg");
        _files.Write("x: 1\n", "ansible/group_vars/all.yml");
        foreach (var role in new[] { "web", "db", "common", "tools", "monitoring", "unused" })
            _files.Write($"- debug: msg={role}\n", $"ansible/roles/{role}/tasks/main.yml");
        _files.Write("dependencies: [common]\n", "ansible/roles/web/meta/main.yml");
        _files.Write("<p>{{ x }}</p>\n", "ansible/roles/web/templates/page.j2");
        _files.Write("<p>db</p>\n", "ansible/roles/db/templates/db.j2");
    }

    public void Dispose() => _files.Dispose();

    private string At(string path) => Path.Combine(_files.Directory, "ansible", path);

    private IReadOnlyList<string> Inputs(string host, params string[] groups) =>
        [.. PlaybookInputs.Of(At("site.yml"), host, new HashSet<string>(groups.Append("all"), StringComparer.Ordinal)).Select(p => Path.GetRelativePath(At(""), p))];

    [Fact]
    public void A_web_server_s_stage_reads_the_playbooks_the_files_beside_them_and_the_roles_of_its_plays_only()
    {
        Assert.Equal(
            ["ansible.cfg", "extra.yml", "group_vars", "more.yml", "roles/common", "roles/monitoring", "roles/tools", "roles/web", "site.yml"],
            Inputs("web1", "webservers", "lab_lan"));
    }

    [Fact]
    public void Host_patterns_take_intersections_exclusions_and_wildcards_into_account()
    {
        // db1 is no web server, and the third play excludes it: only the db role and what every host reads.
        Assert.Equal(["ansible.cfg", "group_vars", "more.yml", "roles/db", "site.yml"], Inputs("db1", "dbservers", "lab_lan"));
        Assert.DoesNotContain("roles/web", Inputs("web1", "webservers"));
    }

    [Fact]
    public void A_playbook_that_is_not_YAML_counts_as_its_whole_folder()
    {
        _files.Write("- hosts: [unclosed\n", "broken/site.yml");

        Assert.Equal([Path.Combine(_files.Directory, "broken")], PlaybookInputs.Of(Path.Combine(_files.Directory, "broken", "site.yml"), "m", new HashSet<string>()));
    }

    [Fact]
    public void Editing_a_role_s_template_changes_the_keys_of_the_stages_that_use_it_and_no_other()
    {
        var lab = _files.Parse($"""
            lab: lab
            images:
              base: {"{"} packages: [python3] {"}"}
            networks:
              lan: {"{"} subnet: 10.0.0.0/24 {"}"}
            machines:
              web1:
                image: base
                groups: [webservers]
                networks: {"{"} lan: {"{"} address: 10.0.0.10/24 {"}"} {"}"}
                stages:
                  - name: configure
                    ansible: {"{"} playbook: ./ansible/site.yml {"}"}
              db1:
                image: base
                groups: [dbservers]
                stages:
                  - name: configure
                    ansible: {"{"} playbook: ./ansible/site.yml {"}"}
            """);
        string Key(string machine) => StageKeys.Of("base", lab.Machines[machine].Stages[0], AnsibleHost.Of(lab, lab.Machines[machine]));
        var (web, db) = (Key("web1"), Key("db1"));

        _files.Write("<p>{{ x }} edited</p>\n", "ansible/roles/web/templates/page.j2");
        Assert.NotEqual(web, Key("web1"));
        Assert.Equal(db, Key("db1"));

        _files.Write("- debug: msg=never used\n", "ansible/roles/unused/tasks/main.yml");
        _files.Write("- debug: msg=not imported\n", "ansible/unrelated.yml");
        var (web2, db2) = (Key("web1"), Key("db1"));
        Assert.Equal(db, db2);
        _files.Write("x: 2\n", "ansible/group_vars/all.yml");
        Assert.NotEqual(web2, Key("web1"));
        Assert.NotEqual(db2, Key("db1"));
    }

    [Fact]
    public void The_failed_task_and_host_and_Ansible_s_message_are_read_from_the_output()
    {
        const string output = """
            TASK [Gathering Facts] *********************************************************
            ok: [web]

            TASK [web : a command that fails] **********************************************
            fatal: [web]: FAILED! => {"changed": true, "cmd": ["/bin/false"], "msg": "non-zero return code", "rc": 1}

            PLAY RECAP *********************************************************************
            """;

        Assert.Equal("task 'web : a command that fails' failed on web: non-zero return code", AnsiblePlaybook.Failure(output));
        Assert.Null(AnsiblePlaybook.Failure("PLAY RECAP ****\nweb : ok=2 failed=0\n"));
        Assert.Equal("task 'copy' failed on gw: Destination /x not writable",
            AnsiblePlaybook.Failure("TASK [copy] ***\nfailed: [gw] (item=a) => {\"msg\": \"Destination /x not writable\"}\n"));
    }
}
