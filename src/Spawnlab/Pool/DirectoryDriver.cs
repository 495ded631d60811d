using Spawnlab.Host;

namespace Spawnlab.Pool;

/// <summary>Plain directories: works on any filesystem, but a clone copies every file (reflinked where the filesystem can).</summary>
public sealed class DirectoryDriver(IHostShell shell) : IPoolDriver
{
    public string Name => "dir";

    public Task CreateAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(path);
        return Task.CompletedTask;
    }

    public Task CloneAsync(string source, string target, bool readOnly, CancellationToken cancellationToken) =>
        shell.RunAsync("cp", ["-a", "--reflink=auto", source, target], cancellationToken);

    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        if (Directory.Exists(path))
            await shell.RunAsync("rm", ["-rf", "--one-file-system", path], cancellationToken);
    }
}
