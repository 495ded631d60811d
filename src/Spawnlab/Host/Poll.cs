namespace Spawnlab.Host;

/// <summary>
/// Every wait of Spawnlab: a condition asked again at an interval until it holds, under a deadline that a linked
/// <see cref="CancellationTokenSource"/> enforces (the condition gets its token, so a slow probe is cut at the deadline
/// too). A condition may throw to end the wait early with its own message.
/// </summary>
public static class Poll
{
    /// <summary>True once the condition holds; false when the timeout passed first. Cancelling <paramref name="cancellationToken"/> throws.</summary>
    public static async Task<bool> UntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            while (!await condition(deadline.Token))
                await Task.Delay(interval, deadline.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>As <see cref="UntilAsync(Func{CancellationToken, Task{bool}}, TimeSpan, TimeSpan, CancellationToken)"/>, for a condition that asks nothing slow.</summary>
    public static Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout, TimeSpan interval, CancellationToken cancellationToken) =>
        UntilAsync(_ => Task.FromResult(condition()), timeout, interval, cancellationToken);
}
