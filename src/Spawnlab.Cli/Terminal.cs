using Spectre.Console;

namespace Spawnlab.Cli;

/// <summary>Spectre consoles for stdout and stderr; wide enough for a log when the output is not a terminal.</summary>
internal static class Terminal
{
    public static readonly IAnsiConsole Out = Create(Console.Out, Console.IsOutputRedirected);
    public static readonly IAnsiConsole Error = Create(Console.Error, Console.IsErrorRedirected);

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        if (redirected)
            console.Profile.Width = 200;
        return console;
    }
}
