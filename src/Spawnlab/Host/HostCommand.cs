using System.Collections.Immutable;

namespace Spawnlab.Host;

/// <summary>
/// An external command as a value: built with <c>With…</c> methods, run by an <see cref="IHostShell"/>.
/// </summary>
public sealed record HostCommand(string Program, ImmutableArray<string> Arguments)
{
    public string? StandardInput { get; init; }

    /// <summary>A file fed to the command's standard input (binary-safe), instead of <see cref="StandardInput"/>.</summary>
    public string? StandardInputFile { get; init; }

    public string? WorkingDirectory { get; init; }
    public ImmutableDictionary<string, string> Environment { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>When false, a non-zero exit code is returned in the result instead of thrown.</summary>
    public bool ThrowOnFailure { get; init; } = true;

    public static HostCommand Of(string program, params IEnumerable<string> arguments) => new(program, [.. arguments]);

    public HostCommand WithArguments(params IEnumerable<string> arguments) => this with { Arguments = Arguments.AddRange(arguments) };

    public HostCommand WithStandardInput(string input) => this with { StandardInput = input };

    public HostCommand WithStandardInputFile(string path) => this with { StandardInputFile = path };

    public HostCommand WithWorkingDirectory(string path) => this with { WorkingDirectory = path };

    /// <summary>The same command with its stdout and stderr appended, interleaved as they come, to a capped log file (<see cref="CappedLog"/>).</summary>
    public HostCommand LoggedTo(string logFile, long? limit = null) =>
        this with { Program = "sh", Arguments = ["-c", CappedLog.Redirect(limit) + CappedLog.RunThenDrain, logFile, Program, .. Arguments] };

    public HostCommand WithEnvironment(string name, string value) => this with { Environment = Environment.SetItem(name, value) };

    public HostCommand WithoutThrowing() => this with { ThrowOnFailure = false };

    public override string ToString() => string.Join(' ', Arguments.Prepend(Program).Select(Quote));

    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@+%".Contains(c)) ? word : $"'{word.Replace("'", "'\\''", StringComparison.Ordinal)}'";
}

public sealed record HostResult(int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;
}
