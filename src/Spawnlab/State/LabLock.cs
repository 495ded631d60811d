namespace Spawnlab.State;

/// <summary>
/// One command that changes a lab at a time: an exclusive lock on a file of the state directory (flock, which
/// .NET takes for FileShare.None), released when the process ends however it ends. Read-only commands take none.
/// </summary>
public sealed class LabLock : IDisposable
{
    private readonly FileStream _file;

    private LabLock(FileStream file) => _file = file;

    public static async Task<LabLock> AcquireAsync(string stateDirectory, string lab, bool wait, Action<string> waiting, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(stateDirectory, "locks");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{lab}.lock");
        var told = false;
        while (true)
        {
            try
            {
                var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                file.SetLength(0);
                var owner = System.Text.Encoding.UTF8.GetBytes($"{Environment.ProcessId}\n");
                file.Write(owner);
                file.Flush();
                return new LabLock(file);
            }
            catch (IOException)
            {
                var holder = ReadHolder(path);
                if (!wait)
                    throw new SpawnlabException($"lab {lab} is busy: another spawnlab command{holder} is changing it (without --no-wait, this one waits)");
                if (!told)
                {
                    waiting($"lab {lab} is busy: another spawnlab command{holder} is changing it; waiting for it to finish");
                    told = true;
                }
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    private static string ReadHolder(string path)
    {
        try
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var text = new StreamReader(reader);
            return text.ReadLine() is { Length: > 0 } pid ? $" (pid {pid})" : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose() => _file.Dispose();
}
