using Spectre.Console;

namespace Spawnlab.Cli;

/// <summary>Spectre consoles over a writer; wide enough for a log when the output is not a terminal.</summary>
internal static class Terminal
{
    public static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        });
        if (redirected)
            console.Profile.Width = 200;
        return console;
    }
}
