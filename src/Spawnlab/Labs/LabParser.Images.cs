using YamlDotNet.RepresentationModel;

namespace Spawnlab.Labs;

public static partial class LabParser
{
    private sealed partial class Builder
    {
        private Dictionary<string, (ImageDefinition Definition, YamlNode Node)> Images(YamlNode node)
        {
            var images = new Dictionary<string, (ImageDefinition, YamlNode)>(StringComparer.Ordinal);
            if (reader.Mapping(node, "images") is not { } mapping)
                return images;
            foreach (var (name, keyNode, value) in reader.Entries(mapping, "images"))
            {
                var what = $"image '{name}'";
                if (CheckName(keyNode, name, "image", SimpleName(), 40, "a lowercase letter followed by lowercase letters, digits, '-' or '_'") is null)
                    continue;
                if (reader.Mapping(value, what) is not { } body)
                    continue;
                var fields = reader.Fields(body, what, LabSchema.Image.Keys);
                if (Image(name, what, body, fields) is { } image)
                    images[name] = (image, keyNode);
            }
            CheckParents(images);
            return images;
        }

        /// <summary>The keys each way of making an image takes, besides setup.</summary>
        private static readonly Dictionary<string, string[]> MethodKeys = new(StringComparer.Ordinal)
        {
            [ImageDefinition.Debootstrap] = ["suite", "mirror", "packages"],
            [ImageDefinition.TarballMethod] = ["tarball"],
            [ImageDefinition.CommandMethod] = ["command", "inputs"],
            [ImageDefinition.Derived] = ["from", "packages"],
        };

        private ImageDefinition? Image(string name, string what, YamlMappingNode body, Dictionary<string, YamlNode> fields)
        {
            var method = Method(what, fields);
            if (method is null)
                return null;
            var ok = KeysOfMethod(what, method, fields);
            var suite = Suite(fields, what, ref ok);
            var mirror = Mirror(fields, what, ref ok);
            var packages = Packages(fields, what, ref ok);
            var setup = Setup(fields, what, ref ok);
            var tarball = Tarball(fields, what);
            var command = Command(fields, what);
            var inputs = Inputs(fields, what, ref ok);
            var from = From(fields, what, name);
            var missing = method switch
            {
                ImageDefinition.TarballMethod when tarball is null => "tarball",
                ImageDefinition.CommandMethod when command is null => "command",
                ImageDefinition.Derived when from is null => "from",
                _ => null,
            };
            if (missing is not null)
            {
                if (!fields.ContainsKey(missing))
                    reader.Error(body, $"{what}: bootstrap: {method} needs the key '{missing}'");
                return null;
            }
            if (!ok)
                return null;
            return new ImageDefinition(name, method, suite, mirror, packages, setup)
            {
                Tarball = tarball,
                Command = command,
                Inputs = inputs,
                Directory = _directory,
                From = from,
            };
        }

        /// <summary>Whether every key is one the image's method takes (setup goes with every method); each other is reported.</summary>
        private bool KeysOfMethod(string what, string method, Dictionary<string, YamlNode> fields)
        {
            var ok = true;
            foreach (var (key, node) in fields.Where(f => f.Key is not ("bootstrap" or "setup") && !MethodKeys[method].Contains(f.Key)))
            {
                var owner = MethodKeys.Where(m => m.Value.Contains(key)).Select(m => m.Key == ImageDefinition.Derived ? "from:" : $"bootstrap: {m.Key}");
                reader.Error(node, $"{what} {key}: only for {string.Join(" or ", owner)} images; this one is {(method == ImageDefinition.Derived ? "from: another image" : $"bootstrap: {method}")}"
                    + (key == "packages" ? " (to add packages to it, make an image `from:` it)" : ""));
                ok = false;
            }
            return ok;
        }

        private string Suite(Dictionary<string, YamlNode> fields, string what, ref bool ok)
        {
            if (!fields.TryGetValue("suite", out var node))
                return "bookworm";
            if (reader.String(node, $"{what} suite") is { } value && SimpleName().IsMatch(value))
                return value;
            if (node is YamlScalarNode)
                reader.Error(node, $"{what} suite: expected a Debian suite name such as bookworm");
            ok = false;
            return "bookworm";
        }

        private string? Mirror(Dictionary<string, YamlNode> fields, string what, ref bool ok)
        {
            if (!fields.TryGetValue("mirror", out var node))
                return null;
            var mirror = reader.String(node, $"{what} mirror");
            if (mirror is not null && !(Uri.TryCreate(mirror, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file"))
            {
                reader.Error(node, $"{what} mirror: expected an http, https or file URL, found '{mirror}'");
                ok = false;
            }
            return mirror;
        }

        private List<string> Packages(Dictionary<string, YamlNode> fields, string what, ref bool ok)
        {
            var packages = new List<string>();
            if (!fields.TryGetValue("packages", out var node))
                return packages;
            foreach (var (package, packageNode) in reader.Strings(node, $"{what} packages"))
            {
                if (PackageName().IsMatch(package))
                    packages.Add(package);
                else
                {
                    reader.Error(packageNode, $"{what} packages: '{package}' is not a Debian package name");
                    ok = false;
                }
            }
            return packages;
        }

        /// <summary>The setup script: as written, or the content of the file it names (./FILE).</summary>
        private string? Setup(Dictionary<string, YamlNode> fields, string what, ref bool ok)
        {
            if (!fields.TryGetValue("setup", out var node) || reader.String(node, $"{what} setup") is not { } setup)
                return null;
            if (SetupFile(setup) is not { } file)
                return setup;
            if (File.Exists(file))
                return File.ReadAllText(file);
            reader.Error(node, $"{what} setup: file '{setup.Trim()}' does not exist (resolved to {file}); setup is a script, or ./FILE for a script in a file");
            ok = false;
            return null;
        }

        private string? Tarball(Dictionary<string, YamlNode> fields, string what)
        {
            if (!fields.TryGetValue("tarball", out var node) || reader.String(node, $"{what} tarball") is not { } path)
                return null;
            var tarball = ImageInput(node, path, $"{what} tarball", file: true);
            if (tarball is null || TarballSuffixes.Any(suffix => tarball.EndsWith(suffix, StringComparison.Ordinal)))
                return tarball;
            reader.Error(node, $"{what} tarball: '{path}' is not a tarball by its name; expected one of {string.Join(", ", TarballSuffixes)}");
            return null;
        }

        private string? Command(Dictionary<string, YamlNode> fields, string what)
        {
            if (!fields.TryGetValue("command", out var node) || reader.String(node, $"{what} command") is not { } command)
                return null;
            if (command.Trim().Length > 0)
                return command;
            reader.Error(node, $"{what} command: empty; expected a shell command that fills $ROOT");
            return null;
        }

        private List<string> Inputs(Dictionary<string, YamlNode> fields, string what, ref bool ok)
        {
            var inputs = new List<string>();
            if (!fields.TryGetValue("inputs", out var node))
                return inputs;
            foreach (var (input, inputNode) in reader.Strings(node, $"{what} inputs"))
            {
                if (ImageInput(inputNode, input, $"{what} inputs", file: false) is { } full)
                    inputs.Add(full);
                else
                    ok = false;
            }
            return inputs;
        }

        /// <summary>The image an image derives from, declared in the lab file and not itself.</summary>
        private string? From(Dictionary<string, YamlNode> fields, string what, string name)
        {
            if (!fields.TryGetValue("from", out var node) || reader.String(node, $"{what} from") is not { } from)
                return null;
            if (!_declaredImages.Contains(from))
            {
                reader.Error(node, $"{what} from: no image '{Printable(from)}' in this lab file{(_declaredImages.Count > 0 ? $"; images: {string.Join(", ", _declaredImages.Order(StringComparer.Ordinal))}" : "")}");
                return null;
            }
            if (from != name)
                return from;
            reader.Error(node, $"{what} from: an image cannot be made from itself");
            return null;
        }

        /// <summary>How the image is made: its bootstrap, or from when it derives from another image.</summary>
        private string? Method(string what, Dictionary<string, YamlNode> fields)
        {
            if (fields.ContainsKey("from"))
            {
                if (fields.TryGetValue("bootstrap", out var both))
                {
                    reader.Error(both, $"{what}: bootstrap: and from: exclude each other; an image `from:` another is a snapshot of it");
                    return null;
                }
                return ImageDefinition.Derived;
            }
            if (!fields.TryGetValue("bootstrap", out var bootstrapNode))
            {
                // The key that names the source says the method when bootstrap: is left out.
                return fields.ContainsKey("tarball") ? ImageDefinition.TarballMethod
                    : fields.ContainsKey("command") ? ImageDefinition.CommandMethod
                    : ImageDefinition.Debootstrap;
            }
            var kind = reader.String(bootstrapNode, $"{what} bootstrap");
            if (kind is null)
                return null;
            if (kind is ImageDefinition.Debootstrap or ImageDefinition.TarballMethod or ImageDefinition.CommandMethod)
                return kind;
            reader.Error(bootstrapNode, kind is "pacstrap"
                ? $"{what} bootstrap: 'pacstrap' is not supported: no Arch mirror can be tested from here; make the root with pacstrap elsewhere and use bootstrap: tarball (or bootstrap: command)"
                : $"{what} bootstrap: unknown method '{Printable(kind)}', expected debootstrap, tarball or command (or from: another image)");
            return null;
        }

        /// <summary>The file a setup names (one word, ./x or ../x), resolved; null when setup is a script.</summary>
        private string? SetupFile(string setup)
        {
            var word = setup.Trim();
            if (word.Any(char.IsWhiteSpace) || !(word.StartsWith("./", StringComparison.Ordinal) || word.StartsWith("../", StringComparison.Ordinal)))
                return null;
            return Path.GetFullPath(Path.Combine(_directory, word));
        }

        /// <summary>A file or folder of the host an image is made from (relative to the lab file's folder or absolute), which must exist.</summary>
        private string? ImageInput(YamlNode node, string path, string what, bool file)
        {
            var full = Path.GetFullPath(Path.Combine(_directory, path));
            if (file ? File.Exists(full) : File.Exists(full) || System.IO.Directory.Exists(full))
                return full;
            reader.Error(node, $"{what}: '{path}' does not exist{(file && System.IO.Directory.Exists(full) ? " as a file (it is a folder)" : "")} (resolved to {full})");
            return null;
        }

        /// <summary>Every from: leads to an image made another way, without a cycle.</summary>
        private void CheckParents(Dictionary<string, (ImageDefinition Definition, YamlNode Node)> images)
        {
            foreach (var (name, (image, node)) in images.ToList())
            {
                var seen = new List<string> { name };
                for (var parent = image.From; parent is not null && images.TryGetValue(parent, out var next); parent = next.Definition.From)
                {
                    if (seen.Contains(parent))
                    {
                        reader.Error(node, $"image '{name}': from: goes round in a circle: {string.Join(" -> ", seen.Append(parent))}");
                        images.Remove(name);
                        break;
                    }
                    seen.Add(parent);
                }
            }
        }
    }
}
