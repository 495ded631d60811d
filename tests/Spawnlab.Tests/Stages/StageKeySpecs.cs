using Spawnlab.Labs;
using Spawnlab.Stages;

namespace Spawnlab.Tests.Stages;

public sealed class StageKeySpecs : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spawnlab-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static List<StageDefinition> Stages(int count) =>
        [.. Enumerable.Range(1, count).Select(i => new StageDefinition($"s{i}", [], null, $"echo {i}", []))];

    [Fact]
    public void Editing_a_stage_changes_its_key_and_every_later_key_only()
    {
        var stages = Stages(5);
        var before = StageKeys.Compute("base", stages);
        stages[2] = stages[2] with { Run = "echo edited" };

        var after = StageKeys.Compute("base", stages);

        Assert.Equal(before.Take(2), after.Take(2));
        Assert.All(Enumerable.Range(2, 3), i => Assert.NotEqual(before[i], after[i]));
    }

    [Fact]
    public void The_same_definition_gives_the_same_keys() =>
        Assert.Equal(StageKeys.Compute("base", Stages(3)), StageKeys.Compute("base", Stages(3)));

    [Fact]
    public void Another_base_changes_every_key() =>
        Assert.DoesNotContain(StageKeys.Compute("other", Stages(3)), StageKeys.Compute("base", Stages(3)).Contains);

    [Fact]
    public void Changing_a_copied_file_changes_the_key_of_its_stage()
    {
        var file = Path.Combine(_directory, "a.conf");
        File.WriteAllText(file, "one");
        var stage = new StageDefinition("s", [new FileCopy("/etc/a.conf", file, "./a.conf")], null, null, []);
        var before = StageKeys.Of("base", stage);

        File.WriteAllText(file, "two");

        Assert.NotEqual(before, StageKeys.Of("base", stage));
    }

    [Fact]
    public void Changing_a_file_inside_a_copied_folder_changes_the_key()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, "site")).FullName;
        File.WriteAllText(Path.Combine(folder, "index.html"), "one");
        var stage = new StageDefinition("s", [new FileCopy("/var/www", folder, "./site")], null, null, []);
        var before = StageKeys.Of("base", stage);

        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.WriteAllText(Path.Combine(folder, "sub", "new.html"), "new");

        Assert.NotEqual(before, StageKeys.Of("base", stage));
    }

    [Fact]
    public async Task A_FIFO_or_a_link_to_a_device_in_a_copied_folder_is_hashed_without_being_read()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, "bound")).FullName;
        File.WriteAllText(Path.Combine(folder, "real.conf"), "x");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(folder, "pipe"))!)
            mkfifo.WaitForExit();
        File.CreateSymbolicLink(Path.Combine(folder, "zero"), "/dev/zero");
        var stage = new StageDefinition("s", [new FileCopy("/srv", folder, "./bound")], null, null, []);

        var key = await Task.Run(() => StageKeys.Of("base", stage)).WaitAsync(TimeSpan.FromSeconds(10));

        File.Delete(Path.Combine(folder, "zero"));
        File.CreateSymbolicLink(Path.Combine(folder, "zero"), "/dev/null");
        Assert.NotEqual(key, StageKeys.Of("base", stage));
    }

    [Fact]
    public void Hashing_stops_when_cancelled()
    {
        var file = Path.Combine(_directory, "big");
        using (var stream = File.Create(file))
            stream.SetLength(64 * 1024 * 1024);
        var stage = new StageDefinition("s", [new FileCopy("/big", file, "./big")], null, null, []);

        Assert.Throws<OperationCanceledException>(() => StageKeys.Of("base", stage, cancellationToken: new CancellationToken(canceled: true)));
    }
}
