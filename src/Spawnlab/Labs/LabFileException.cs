namespace Spawnlab.Labs;

/// <summary>A place in a lab file and what was wrong there.</summary>
public sealed record LabError(string File, int Line, int Column, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>The lab file is invalid; nothing was done on the host. Exit code 2.</summary>
public sealed class LabFileException(IReadOnlyList<LabError> errors)
    : SpawnlabException(string.Join(Environment.NewLine, errors), exitCode: 2)
{
    public IReadOnlyList<LabError> Errors { get; } = errors;
}
