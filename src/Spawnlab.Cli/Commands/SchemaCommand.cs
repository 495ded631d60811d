using System.CommandLine;
using Spawnlab.Labs;

namespace Spawnlab.Cli.Commands;

internal static class SchemaCommand
{
    public static Command Create(CliContext cli)
    {
        var command = new Command("schema", "Print the JSON Schema of the lab file (for editors; the repository's schema/lab.schema.json)");
        command.SetAction(_ =>
        {
            cli.Out.Write(LabSchema.Json());
            return 0;
        });
        return command;
    }
}
