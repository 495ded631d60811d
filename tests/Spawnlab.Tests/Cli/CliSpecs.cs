using System.Text.Json;
using Spawnlab.Tests.Lifecycle;

namespace Spawnlab.Tests.Cli;

/// <summary>Each command's output, exit code and error text, run in-process against a fake host and fake machines.</summary>
public sealed class CliSpecs : IDisposable
{
    private readonly CliRun _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task Validate_says_what_a_valid_lab_holds()
    {
        var (code, output, error) = await _cli.RunAsync("validate", _cli.LabFile);

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.StartsWith($"{_cli.LabFile}: lab unit is valid (1 images, 1 networks, 2 machines", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broken_lab_file_is_named_with_its_line_and_column_and_exits_2()
    {
        var file = _cli.Write(FakeLab.Text.Replace("    image: base\n    networks: { lan: { address: 10.98.0.20/24 } }", "    image: nope\n    networks: { lan: { address: 10.98.0.20/24 } }", StringComparison.Ordinal), "broken.yaml");

        var (code, output, error) = await _cli.RunAsync("up", file);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches($@"^error: {System.Text.RegularExpressions.Regex.Escape(file)}:\d+:\d+: .*'nope'", line);
        Assert.Empty(_cli.Lab.Host.Shell.Commands);
    }

    [Fact]
    public async Task Up_reports_its_checks_and_the_lab_ready_and_ls_stages_and_inventory_show_it()
    {
        var (code, _, error) = await _cli.RunAsync("up", _cli.LabFile);
        var ls = await _cli.RunAsync("ls");
        var json = await _cli.RunAsync("ls", "--json");
        var stages = await _cli.RunAsync("stages", "db");
        var inventory = await _cli.RunAsync("inventory", "--format", "json");

        Assert.Equal(0, code);
        Assert.Contains("1 passed, 0 failed, 0 skipped", error, StringComparison.Ordinal);
        Assert.Matches(@"lab unit is up: 2 machines ready in [0-9.]+ s\n$", error);
        Assert.Equal(0, ls.ExitCode);
        Assert.Matches(@"unit +db +running +private +lan 10\.98\.0\.10/24", ls.Out);
        using var machines = JsonDocument.Parse(json.Out);
        Assert.Equal(["db", "web"], machines.RootElement.EnumerateArray().Select(m => m.GetProperty("machine").GetString()));
        Assert.All(machines.RootElement.EnumerateArray(), m => Assert.Equal(("running", "container"), (m.GetProperty("state").GetString(), m.GetProperty("kind").GetString())));
        Assert.Matches(@"1 +install +[0-9a-f]+ +ran", stages.Out);
        Assert.Matches(@"3 +data +[0-9a-f]+ +ran", stages.Out);
        Assert.Equal(0, inventory.ExitCode);
        Assert.Contains("10.98.0.20", inventory.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_stage_makes_up_exit_1_and_name_the_machine_the_stage_and_what_was_skipped()
    {
        var file = _cli.Write(FakeLab.Text.Replace("echo schema >> stages", "exit 3", StringComparison.Ordinal), "failing.yaml");

        var (code, _, error) = await _cli.RunAsync("up", file);

        Assert.Equal(1, code);
        Assert.Contains("spawnlab: 1 of 2 machines failed", error, StringComparison.Ordinal);
        Assert.Contains("stage schema", error, StringComparison.Ordinal);
        Assert.Contains("exit code 3", error, StringComparison.Ordinal);
        Assert.Contains("db/schema", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dry_run_prints_the_plan_on_stdout_and_makes_nothing()
    {
        var (code, output, error) = await _cli.RunAsync("up", _cli.LabFile, "--dry-run");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.Contains("base", output, StringComparison.Ordinal);
        Assert.Contains("db", output, StringComparison.Ordinal);
        Assert.Empty(_cli.Lab.Host.Links);
        Assert.Equal(0, _cli.Lab.Host.Processes.Count);
        Assert.False(Directory.Exists(_cli.Lab.PoolFolder));
    }

    [Fact]
    public async Task Down_takes_the_lab_down_and_a_second_down_says_no_such_lab_is_up()
    {
        await _cli.RunAsync("up", _cli.LabFile);

        var first = await _cli.RunAsync("down", "unit");
        var second = await _cli.RunAsync("down", "unit");

        Assert.Equal(0, first.ExitCode);
        Assert.Matches(@"lab unit is down \([0-9.]+ s\)\n$", first.Error);
        Assert.Equal(1, second.ExitCode);
        Assert.Equal("spawnlab: no lab named unit is up (see `spawnlab ls`)\n", second.Error);
        Assert.Empty(_cli.Lab.Host.Links);
    }

    [Fact]
    public async Task Without_root_up_says_so_in_one_line_and_exits_1()
    {
        _cli.Lab.Host.IsRoot = false;

        var (code, output, error) = await _cli.RunAsync("up", _cli.LabFile);

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("spawnlab: spawnlab up needs root: it creates bridges, namespaces, mounts and containers; run it with sudo\n", error);
    }

    [Fact]
    public async Task An_unknown_option_exits_2_and_points_to_the_command_s_help()
    {
        var (code, output, error) = await _cli.RunAsync("up", "--frobnicate");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("'--frobnicate'", error, StringComparison.Ordinal);
        Assert.EndsWith("see `spawnlab up --help`\n", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exec", "spawnlab: no machine named nosuch (see `spawnlab ls`)\n", 1)]
    [InlineData("logs", "spawnlab: no machine named nosuch (see `spawnlab ls`)\n", 1)]
    [InlineData("stages", "spawnlab: no machine named nosuch (see `spawnlab ls`)\n", 1)]
    public async Task A_command_on_an_unknown_machine_names_it(string command, string expected, int exitCode)
    {
        var (code, _, error) = await _cli.RunAsync(command == "exec" ? [command, "nosuch", "--", "true"] : [command, "nosuch"]);

        Assert.Equal(exitCode, code);
        Assert.Equal(expected, error);
    }

    [Fact]
    public async Task Exec_on_a_stopped_machine_says_it_is_not_running()
    {
        await _cli.RunAsync("up", _cli.LabFile);
        var db = _cli.Lab.Controller.Store.Load("unit")!.Machines["db"];
        _cli.Lab.Host.Processes.Signal(db.Process!, 9);

        var (code, _, error) = await _cli.RunAsync("exec", "db", "--", "true");

        Assert.Equal(1, code);
        Assert.Equal("spawnlab: machine unit/db is not running; `spawnlab up` starts it\n", error);
    }

    [Fact]
    public async Task Rollback_without_a_stage_exits_2()
    {
        var (code, _, error) = await _cli.RunAsync("rollback", "db");

        Assert.Equal(2, code);
        Assert.Equal("spawnlab: 'db': expected MACHINE/STAGE or LAB/MACHINE/STAGE\n", error);
    }

    [Fact]
    public async Task Help_lists_the_commands_on_stdout()
    {
        var (code, output, _) = await _cli.RunAsync("--help");

        Assert.Equal(0, code);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
        foreach (var command in new[] { "validate", "up", "down", "ls", "exec", "rollback", "clean", "doctor" })
            Assert.Contains($"  {command} ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_executable_answers_Ansible_s_list_and_host_and_installs_its_connection_where_Ansible_looks()
    {
        await _cli.RunAsync("up", _cli.LabFile);

        var list = await _cli.RunAsync("--list");
        var host = await _cli.RunAsync("--host", "db");
        var yaml = await _cli.RunAsync("inventory", "unit");

        Assert.Equal(0, list.ExitCode);
        using var inventory = JsonDocument.Parse(list.Out);
        Assert.Equal(["db", "web"], inventory.RootElement.GetProperty("unit").GetProperty("hosts").EnumerateArray().Select(h => h.GetString()));
        using var vars = JsonDocument.Parse(host.Out);
        Assert.Equal("unit/db", vars.RootElement.GetProperty("spawnlab_machine").GetString());
        Assert.Equal("spawnlab.lab.machine", vars.RootElement.GetProperty("ansible_connection").GetString());
        Assert.True(Spawnlab.Ansible.AnsibleCollection.IsInstalled(_cli.Collections));
        Assert.StartsWith("installed Spawnlab's Ansible connection", list.Error, StringComparison.Ordinal);
        Assert.Equal("", yaml.Error);
        Assert.Contains("ansible_connection: spawnlab.lab.machine", yaml.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ls_graph_and_inventory_of_a_lab_that_is_not_up_say_so_with_exit_code_2()
    {
        foreach (var command in new[] { "ls", "graph", "inventory" })
        {
            var (code, output, error) = await _cli.RunAsync(command, "nosuch");

            Assert.Equal((2, ""), (code, output));
            Assert.Equal("spawnlab: no lab nosuch is up; no lab is up\n", error);
        }
    }

    [Fact]
    public async Task Graph_of_a_lab_file_whose_lab_is_not_up_draws_it_from_the_file_alone()
    {
        var (code, output, error) = await _cli.RunAsync("graph", _cli.LabFile);
        var json = await _cli.RunAsync("graph", _cli.LabFile, "--json");

        Assert.Equal((0, ""), (code, error));
        Assert.Contains("lab unit", output, StringComparison.Ordinal);
        Assert.Matches(@"\+-- db +lan +10\.98\.0\.10/24 +[0-9a-f:]{17}  \[not up\]", output);
        using var topology = JsonDocument.Parse(json.Out);
        Assert.Equal("not up", topology.RootElement.GetProperty("unit").GetProperty("machines").GetProperty("db").GetProperty("state").GetString());
        Assert.Empty(_cli.Lab.Host.Shell.Commands);
    }

    [Fact]
    public async Task Every_read_command_takes_the_lab_file_or_the_name_and_answers_in_json()
    {
        await _cli.RunAsync("up", _cli.LabFile);

        foreach (var lab in new[] { "unit", _cli.LabFile })
        {
            var ls = await _cli.RunAsync("ls", lab, "--json");
            using var machines = JsonDocument.Parse(ls.Out);
            Assert.Equal(["db", "web"], machines.RootElement.EnumerateArray().Select(m => m.GetProperty("machine").GetString()));
            var graph = await _cli.RunAsync("graph", lab, "--json");
            using var topology = JsonDocument.Parse(graph.Out);
            Assert.Equal("running", topology.RootElement.GetProperty("unit").GetProperty("machines").GetProperty("web").GetProperty("state").GetString());
            Assert.Equal("container", topology.RootElement.GetProperty("unit").GetProperty("machines").GetProperty("web").GetProperty("kind").GetString());
            var inventory = await _cli.RunAsync("inventory", lab, "--json");
            Assert.Equal(graph.Out, inventory.Out);
        }
        var stages = await _cli.RunAsync("stages", "db", "--json");
        using var record = JsonDocument.Parse(stages.Out);
        Assert.Equal(("unit", "db"), (record.RootElement.GetProperty("lab").GetString(), record.RootElement.GetProperty("machine").GetString()));
        Assert.Equal(["install", "schema", "data"], record.RootElement.GetProperty("stages").EnumerateArray().Select(st => st.GetProperty("name").GetString()));
        Assert.All(record.RootElement.GetProperty("stages").EnumerateArray(), st => Assert.Equal("ran", st.GetProperty("state").GetString()));
        Assert.True(record.RootElement.GetProperty("stages")[2].GetProperty("current").GetBoolean());
        var missing = await _cli.RunAsync("ls", "other");
        Assert.Equal((2, "spawnlab: no lab other is up; labs up: unit\n"), (missing.ExitCode, missing.Error));
    }

    [Fact]
    public async Task Completion_offers_commands_machines_stages_and_labs_from_the_recorded_state()
    {
        await _cli.RunAsync("up", _cli.LabFile);

        Assert.Contains("rollback", await _cli.SuggestAsync("ro"));
        Assert.Equal(["db", "web"], (await _cli.SuggestAsync("exec ")).Where(s => !s.StartsWith('-') && !s.StartsWith('/')));
        Assert.Superset(new HashSet<string> { "data", "install", "schema" }, (await _cli.SuggestAsync("restore db ")).ToHashSet());
        Assert.DoesNotContain("app", await _cli.SuggestAsync("restore db "));
        Assert.Equal(["db/data", "db/install", "db/schema", "web/app", "web/site"], (await _cli.SuggestAsync("rollback ")).Where(s => s.Contains('/', StringComparison.Ordinal) && !s.StartsWith('/')));
        Assert.Contains("unit", await _cli.SuggestAsync("graph "));
        Assert.Contains("--json", await _cli.SuggestAsync("stages db --j"));
    }

    [Fact]
    public async Task The_bash_completion_script_asks_the_executable_and_completes_a_machine()
    {
        await _cli.RunAsync("up", _cli.LabFile);
        var (code, script, _) = await _cli.RunAsync("completion", "bash");
        var program = Path.Combine(AppContext.BaseDirectory, "spawnlab");
        var info = new System.Diagnostics.ProcessStartInfo("bash", ["-c", """
            source "$1"
            COMP_LINE="$2 exec w"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=("$2" exec w); COMP_CWORD=2
            _spawnlab; printf '%s\n' "${COMPREPLY[@]}"
            """, "bash", _cli.Write(script, "completion.bash"), program])
        {
            RedirectStandardOutput = true,
            Environment = { ["SPAWNLAB_STATE_DIR"] = _cli.Lab.StateFolder },
        };
        using var bash = System.Diagnostics.Process.Start(info)!;
        var completed = await bash.StandardOutput.ReadToEndAsync();
        await bash.WaitForExitAsync();

        Assert.Equal(0, code);
        Assert.Equal("web\n", completed);
    }

    [Fact]
    public async Task Up_with_timings_says_where_the_time_went_phase_by_phase()
    {
        var (code, _, error) = await _cli.RunAsync("up", _cli.LabFile, "--timings");

        Assert.Equal(0, code);
        foreach (var phase in new[] { "lock", "preflight", "pool", "host checks", "images", "networks" })
            Assert.Matches($@"\n +{phase} +[0-9]+\.[0-9]{{3}} +\n", error);
        foreach (var phase in new[] { "clone", "wait", "stages", "snapshots" })
            Assert.Matches($@"\n +{phase} +[0-9]+\.[0-9]{{3}} +[0-9]+\.[0-9]{{3}} +2 +[0-9]+\.[0-9]{{3}}", error);
        Assert.Matches(@"\n +total +[0-9]+\.[0-9]{3} +2", error);
    }

    [Fact]
    public async Task Ls_with_no_lab_says_there_are_no_machines()
    {
        var (code, output, error) = await _cli.RunAsync("ls");

        Assert.Equal(0, code);
        Assert.Equal("", output);
        Assert.Equal("no machines\n", error);
    }
}
