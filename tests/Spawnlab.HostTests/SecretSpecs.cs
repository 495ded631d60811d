using Spawnlab.Pool;

namespace Spawnlab.HostTests;

[Collection(HostCollection.Name)]
[Trait("Category", "Host")]
public sealed class SecretSpecs(HostFixture host) : IDisposable
{
    private readonly TestLab _files = new();

    public void Dispose() => _files.Dispose();

    [HostFact]
    public async Task Root_is_locked_without_a_password_file_and_the_password_of_one_is_never_logged_or_recorded()
    {
        var name = TestLab.Name("sec");
        const string password = "correct-horse-battery-staple-42";
        Directory.CreateDirectory(Path.Combine(_files.Directory, "secrets"));
        await File.WriteAllTextAsync(Path.Combine(_files.Directory, "secrets", "root"), password + "\n");
        var lab = _files.Write($$"""
            lab: {{name}}
            {{TestLab.Image}}
            machines:
              open:
                image: base
                root_password_file: ./secrets/root
              locked:
                image: base
            """);
        var controller = host.Controller(DriverChoice.Btrfs);
        var progress = new TestProgress();
        try
        {
            await host.Controller(DriverChoice.Btrfs, progress).UpCleanlyAsync(lab);

            var locked = (await controller.InsideAsync(name, "locked", "getent", "shadow", "root")).Split(':')[1];
            Assert.True(locked is "*" or "!" or "!*" || locked.StartsWith('!'), $"root of a machine without a password file has '{locked}'");
            var open = (await controller.InsideAsync(name, "open", "getent", "shadow", "root")).Split(':')[1];
            Assert.StartsWith("$", open, StringComparison.Ordinal);

            var everything = string.Join("\n", Directory.EnumerateFiles(controller.Store.LabDirectory(name), "*", SearchOption.AllDirectories).Select(File.ReadAllText))
                + string.Join("\n", progress.Lines);
            Assert.DoesNotContain(password, everything, StringComparison.Ordinal);
        }
        finally
        {
            await controller.DownAsync(name, purgeImages: false, CancellationToken.None);
        }
    }
}
