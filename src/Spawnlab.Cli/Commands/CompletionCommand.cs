using System.CommandLine;

namespace Spawnlab.Cli.Commands;

/// <summary>
/// Shell completion: a script per shell that asks spawnlab itself what may come next (System.CommandLine's [suggest]
/// directive), so that commands, options, lab names and files, machines and MACHINE/STAGE complete as the parser sees them.
/// </summary>
internal static class CompletionCommand
{
    public static Command Create(CliContext cli)
    {
        var shell = new Argument<string>("shell") { Description = "bash or zsh" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script: `source <(spawnlab completion bash)`, or in ~/.zshrc `source <(spawnlab completion zsh)`") { shell };
        command.SetAction(result =>
        {
            cli.Out.Write(result.GetValue(shell) == "zsh" ? Zsh : Bash);
            return 0;
        });
        return command;
    }

    /// <summary>The words before the cursor, without the program's name, and the cursor's place in them: what [suggest:N] takes.</summary>
    private const string Bash = """
        # spawnlab completion for bash: source <(spawnlab completion bash)
        _spawnlab() {
            local prefix="${COMP_LINE:0:$COMP_POINT}"
            local rest="${prefix#"${COMP_WORDS[0]}"}"
            rest="${rest#"${rest%%[! ]*}"}"
            local cur="${COMP_WORDS[COMP_CWORD]}"
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "[suggest:${#rest}]" "$rest" 2>/dev/null)" -- "$cur"))
        }
        complete -o default -F _spawnlab spawnlab

        """;

    private const string Zsh = """
        #compdef spawnlab
        # spawnlab completion for zsh: source <(spawnlab completion zsh)
        _spawnlab() {
            local prefix="${BUFFER[1,CURSOR]}"
            local rest="${prefix#${words[1]}}"
            rest="${rest#"${rest%%[! ]*}"}"
            local -a suggestions
            suggestions=("${(@f)$(${words[1]} "[suggest:${#rest}]" "$rest" 2>/dev/null)}")
            if (( ${#suggestions} )); then compadd -a suggestions; else _files; fi
        }
        compdef _spawnlab spawnlab

        """;
}
