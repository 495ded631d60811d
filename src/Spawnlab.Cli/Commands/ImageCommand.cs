using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Spawnlab.Cli.Commands;

internal static class ImageCommand
{
    public static Command Create(CliContext cli) => new("image", "List, remove and export the images of the pool") { List(cli), Remove(cli), Export(cli) };

    private static Command List(CliContext cli)
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("ls", "List the images of the pool: how each was made and what uses it") { json };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var images = await cli.Controller(result).ImagesAsync(cancellationToken);
            if (result.GetValue(json))
            {
                cli.Out.WriteLine(JsonNodes.Indented(JsonNodes.Array(images.Select(i => (JsonNode)new JsonObject
                {
                    ["name"] = i.Name,
                    ["key"] = i.Key,
                    ["path"] = i.Path,
                    ["bootstrap"] = i.Record?.Bootstrap,
                    ["source"] = i.Record?.Source,
                    ["parent"] = i.Record?.Parent,
                    ["packages"] = i.Record?.Packages is { } packages ? JsonNodes.Array(packages) : null,
                    ["made"] = i.Record?.Made,
                    ["usedBy"] = JsonNodes.Array(i.UsedBy),
                }))));
                return 0;
            }
            if (images.Count == 0)
            {
                cli.Error.WriteLine("no images");
                return 0;
            }
            var table = new Table().Border(TableBorder.Simple).AddColumns("IMAGE", "KEY", "MADE BY", "MADE", "USED BY");
            foreach (var image in images)
            {
                var madeBy = image.Record switch
                {
                    null => "-",
                    { Bootstrap: "from", Parent: var parent } => $"from {parent}",
                    { Bootstrap: var method, Source: var source } => $"{method} {source}",
                };
                table.AddRow(
                    Markup.Escape(image.Name),
                    Markup.Escape(image.Key),
                    Markup.Escape(madeBy),
                    image.Record?.Made.ToLocalTime().ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "-",
                    Markup.Escape(image.UsedBy.Count == 0 ? "-" : string.Join("\n", image.UsedBy)));
            }
            cli.OutConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command Remove(CliContext cli)
    {
        var names = new Argument<string[]>("image") { Description = "NAME (every version of it) or NAME-KEY, as `image ls` shows", Arity = ArgumentArity.OneOrMore };
        var command = new Command("rm", "Remove images from the pool (not while a lab or a derived image uses them)") { names };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            foreach (var name in result.GetValue(names)!)
            {
                foreach (var removed in await cli.Controller(result).RemoveImagesAsync(name, cancellationToken))
                    cli.Error.WriteLine($"removed image {removed}");
            }
            return 0;
        }));
        return command;
    }

    private static Command Export(CliContext cli)
    {
        var name = new Argument<string>("image") { Description = "NAME or NAME-KEY, as `image ls` shows" };
        var file = new Argument<string>("file") { Description = "The tarball to write: .tar, .tar.gz, .tgz, .tar.xz or .tar.zst" };
        var command = new Command("export", "Write an image's root to a tarball, which `bootstrap: tarball` takes back") { name, file };
        command.SetAction((result, cancellationToken) => CommandRunner.RunAsync(cli, async () =>
        {
            var image = await cli.Controller(result).ExportImageAsync(result.GetValue(name)!, result.GetValue(file)!, cancellationToken);
            cli.Error.WriteLine($"image {image.Folder} written to {Path.GetFullPath(result.GetValue(file)!)}");
            return 0;
        }));
        return command;
    }
}
