using System.Text.Json.Nodes;
using Spawnlab.Tests.Labs;

namespace Spawnlab.Tests.Ansible;

/// <summary>The lab file's Ansible keys: lab vars, machine groups and vars, and `ansible:` stages.</summary>
public sealed class AnsibleLabFileSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public AnsibleLabFileSpecs() => _files.Write("- hosts: all\n  tasks: []\n", "ansible/site.yml");

    public void Dispose() => _files.Dispose();

    private static string Lab(string machine, string packages = "[python3]", string labVars = "") => $"""
        lab: an
        {labVars}
        images:
          base: {"{"} packages: {packages} {"}"}
        machines:
          m:
            image: base
        {machine}
        """;

    [Fact]
    public void Vars_groups_and_an_ansible_stage_are_read_with_their_YAML_types()
    {
        var lab = _files.Parse(Lab("""
                groups: [webservers, user]
                vars: { role: gw, port: 8080, ratio: 0.5, on: true, quoted: "true", list: [1, two], none: ~ }
                stages:
                  - name: configure
                    ansible: { playbook: ./ansible/site.yml, tags: [web, db], extra_vars: { x: 1, y: { z: "a" } } }
            """, labVars: "vars: { container_setup: true }"));

        var m = lab.Machines["m"];
        Assert.Equal(["webservers", "user"], m.Groups);
        Assert.Equal("""{"role":"gw","port":8080,"ratio":0.5,"on":true,"quoted":"true","list":[1,"two"],"none":null}""", m.Vars.ToJsonString());
        Assert.Equal("""{"container_setup":true}""", lab.Vars.ToJsonString());
        var ansible = m.Stages[0].Ansible!;
        Assert.Equal(Path.Combine(_files.Directory, "ansible", "site.yml"), ansible.Playbook);
        Assert.Equal(["web", "db"], ansible.Tags);
        Assert.Equal("""{"x":1,"y":{"z":"a"}}""", ansible.ExtraVars.ToJsonString());
    }

    [Theory]
    [InlineData("    stages:\n      - name: s\n        run: \"true\"\n        ansible: { playbook: ./ansible/site.yml }", "a stage runs a script (run) or a playbook (ansible), not both")]
    [InlineData("    stages:\n      - name: s\n        ansible: { playbook: ./ansible/nope.yml }", "nope.yml")]
    [InlineData("    stages:\n      - name: s\n        ansible: { playbook: ./ansible }", "is a folder; expected a playbook file")]
    [InlineData("    stages:\n      - name: s\n        ansible: { tags: [x] }", "missing key 'playbook'")]
    [InlineData("    stages:\n      - name: s\n        ansible: { playbook: ./ansible/site.yml, limit: all }", "unknown key 'limit'")]
    [InlineData("    groups: [web-servers]", "'web-servers' is not an Ansible group name")]
    [InlineData("    groups: [all]", "'all' is a group Ansible makes itself")]
    [InlineData("    groups: web", "expected a list")]
    [InlineData("    vars: { 1x: 2 }", "'1x' is not an Ansible variable name")]
    [InlineData("    vars: [a]", "expected a mapping")]
    public void Wrong_Ansible_keys_are_named_with_what_was_expected(string machine, string expected)
    {
        var errors = _files.Errors(Lab(machine));

        Assert.Contains(errors, e => e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void An_ansible_stage_on_an_image_without_python3_says_to_add_it()
    {
        var errors = _files.Errors(Lab("    stages:\n      - name: configure\n        ansible: { playbook: ./ansible/site.yml }", packages: "[nginx]"));

        var error = Assert.Single(errors);
        Assert.Equal("machine 'm' stage 'configure' runs Ansible, whose modules need python3 in the machine: add python3 to the packages of image 'base'", error.Message);
    }

    [Fact]
    public void Lab_vars_must_be_a_mapping_of_variable_names()
    {
        var errors = _files.Errors(Lab("", labVars: "vars: { \"a b\": 1 }"));

        Assert.Contains(errors, e => e.Message.StartsWith("lab vars: 'a b' is not an Ansible variable name", StringComparison.Ordinal));
        Assert.IsType<JsonObject>(_files.Parse(Lab("", labVars: "vars: {}")).Vars);
    }
}
