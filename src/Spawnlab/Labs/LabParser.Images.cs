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
                var fields = reader.Fields(body, what, "bootstrap", "suite", "mirror", "packages", "setup");
                var ok = true;
                string bootstrap = "debootstrap";
                if (fields.TryGetValue("bootstrap", out var bootstrapNode))
                {
                    var kind = reader.String(bootstrapNode, $"{what} bootstrap");
                    if (kind is null)
                        ok = false;
                    else if (kind is not "debootstrap")
                    {
                        reader.Error(bootstrapNode, kind is "pacstrap" or "tarball" or "command"
                            ? $"{what} bootstrap: '{kind}' is not supported by this version of Spawnlab yet; expected debootstrap"
                            : $"{what} bootstrap: unknown method '{kind}', expected debootstrap");
                        ok = false;
                    }
                    else
                        bootstrap = kind;
                }
                var suite = "bookworm";
                if (fields.TryGetValue("suite", out var suiteNode))
                {
                    if (reader.String(suiteNode, $"{what} suite") is { } s && SimpleName().IsMatch(s))
                        suite = s;
                    else
                    {
                        if (suiteNode is YamlScalarNode)
                            reader.Error(suiteNode, $"{what} suite: expected a Debian suite name such as bookworm");
                        ok = false;
                    }
                }
                string? mirror = null;
                if (fields.TryGetValue("mirror", out var mirrorNode))
                {
                    mirror = reader.String(mirrorNode, $"{what} mirror");
                    if (mirror is not null && !(Uri.TryCreate(mirror, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file"))
                    {
                        reader.Error(mirrorNode, $"{what} mirror: expected an http, https or file URL, found '{mirror}'");
                        ok = false;
                    }
                }
                var packages = new List<string>();
                if (fields.TryGetValue("packages", out var packagesNode))
                {
                    foreach (var (package, packageNode) in reader.Strings(packagesNode, $"{what} packages"))
                    {
                        if (PackageName().IsMatch(package))
                            packages.Add(package);
                        else
                        {
                            reader.Error(packageNode, $"{what} packages: '{package}' is not a Debian package name");
                            ok = false;
                        }
                    }
                }
                string? setup = null;
                if (fields.TryGetValue("setup", out var setupNode))
                    setup = reader.String(setupNode, $"{what} setup");
                if (ok)
                    images[name] = (new ImageDefinition(name, bootstrap, suite, mirror, packages, setup), keyNode);
            }
            return images;
        }
    }
}
