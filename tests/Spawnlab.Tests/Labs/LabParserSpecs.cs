using System.Net;
using Spawnlab.Labs;

namespace Spawnlab.Tests.Labs;

public sealed class LabParserSpecs : IDisposable
{
    private readonly LabFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static string Replace(string from, string to)
    {
        Assert.Contains(from, LabFiles.Valid, StringComparison.Ordinal);
        return LabFiles.Valid.Replace(from, to, StringComparison.Ordinal);
    }

    [Fact]
    public void A_valid_lab_is_read_into_its_model()
    {
        var lab = _files.Parse(LabFiles.Valid);

        Assert.Equal("prolo", lab.Name);
        Assert.Equal(["systemd-sysv", "dbus", "iproute2"], lab.Images["base"].Packages);
        Assert.Equal(IPNetwork.Parse("10.0.0.0/24"), lab.Networks["lan"].Subnet);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), lab.Networks["lan"].Host);
        Assert.True(lab.Networks["lan"].Nat);
        var gw = lab.Machines["gw"];
        Assert.Equal("10.0.0.254/24", gw.Interfaces.Single().Cidr);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), gw.Interfaces.Single().Gateway);
        Assert.Equal(["/var/tmp"], gw.Tmpfs);
        Assert.Null(lab.Machines["web"].Interfaces.Single().Gateway);
    }

    [Fact]
    public void An_error_names_the_file_line_and_column()
    {
        var errors = _files.Errors(Replace("    image: base\n    networks:\n      lan: { address: 10.0.0.254/24", "    image: base\n    networks:\n      lan: { address: 10.0.0.254/24, color: red"));

        var error = Assert.Single(errors);
        Assert.EndsWith("lab.yaml", error.File, StringComparison.Ordinal);
        Assert.Equal(16, error.Line);
        Assert.Contains("unknown key 'color'", error.Message, StringComparison.Ordinal);
        Assert.Matches(@"lab\.yaml:16:\d+: ", error.ToString());
    }

    [Fact]
    public void A_YAML_syntax_error_is_reported_with_its_position()
    {
        var error = Assert.Single(_files.Errors("lab: prolo\nmachines: [a, b\n"));

        Assert.StartsWith("invalid YAML", error.Message, StringComparison.Ordinal);
        Assert.True(error.Line >= 2);
    }

    [Fact]
    public void An_empty_file_is_rejected() =>
        Assert.Contains("empty lab file", Assert.Single(_files.Errors("")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("lab: prolo", "lab: Prolo", "lab name 'Prolo'")]
    [InlineData("lab: prolo", "lab: a-very-long-lab-name-indeed", "expected at most 20")]
    [InlineData("lab: prolo", "lab: [prolo]", "lab: expected a string")]
    [InlineData("  gw:\n", "  g_w:\n", "machine name 'g_w'")]
    [InlineData("  gw:\n", "  gw-:\n", "machine name 'gw-'")]
    [InlineData("  lan:\n    subnet", "  a-network-name-too-long:\n    subnet", "network name 'a-network-name-too-long' is 23 characters long: expected at most 15")]
    [InlineData("  lan:\n    subnet", "  LAN:\n    subnet", "network name 'LAN'")]
    public void Names_that_cannot_become_hostnames_or_interface_names_are_rejected(string from, string to, string message) =>
        Assert.Contains(_files.Errors(Replace(from, to)), e => e.Message.Contains(message, StringComparison.Ordinal));

    [Theory]
    [InlineData("nat: true", "nat: yes please", "nat: expected true or false")]
    [InlineData("nat: true", "nat: 'true'", "nat: expected true or false")]
    [InlineData("packages: [systemd-sysv, dbus, iproute2]", "packages: systemd-sysv", "packages: expected a list")]
    [InlineData("tmpfs: [ /var/tmp ]", "tmpfs: { a: b }", "tmpfs: expected a list")]
    [InlineData("    image: base\n    networks:\n      lan: { address: 10.0.0.10/24 }", "    image: base\n    networks: [lan]", "networks: expected a mapping")]
    [InlineData("    image: base\n    networks:\n      lan: { address: 10.0.0.10/24 }", "    image: [base]\n    networks:\n      lan: { address: 10.0.0.10/24 }", "image: expected a string")]
    public void Wrong_types_are_rejected_with_what_was_expected(string from, string to, string message) =>
        Assert.Contains(_files.Errors(Replace(from, to)), e => e.Message.Contains(message, StringComparison.Ordinal));

    [Theory]
    [InlineData("lab: prolo", "lab: prolo\nversion: 2", "lab file: unknown key 'version'")]
    [InlineData("    suite: bookworm", "    suite: bookworm\n    flavour: x", "unknown key 'flavour'")]
    [InlineData("    nat: true", "    nat: true\n    vlan: 3", "unknown key 'vlan'")]
    [InlineData("    tmpfs: [ /var/tmp ]", "    tmpfs: [ /var/tmp ]\n    ram: 1G", "unknown key 'ram'")]
    public void Unknown_keys_are_rejected_with_the_keys_allowed_there(string from, string to, string message)
    {
        var error = Assert.Single(_files.Errors(Replace(from, to)));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains("expected one of:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_names_are_rejected()
    {
        var error = Assert.Single(_files.Errors(Replace("  web:\n", "  gw:\n")));
        Assert.Contains("duplicate key", error.Message, StringComparison.Ordinal);
        Assert.Equal(18, error.Line);
    }

    [Theory]
    [InlineData("10.0.0.0/33", "is not an IPv4 network")]
    [InlineData("10.0.0/24", "is not an IPv4 network")]
    [InlineData("fd00::/64", "is not an IPv4 network")]
    [InlineData("10.0.0.1/24", "has host bits set; expected 10.0.0.0/24")]
    [InlineData("banana", "is not an IPv4 network")]
    public void Malformed_subnets_are_rejected(string subnet, string message) =>
        Assert.Contains(_files.Errors(Replace("subnet: 10.0.0.0/24", $"subnet: {subnet}")), e => e.Message.Contains(message, StringComparison.Ordinal));

    [Fact]
    public void Overlapping_subnets_are_rejected()
    {
        var lab = Replace("    nat: true\n", "    nat: true\n  wan:\n    subnet: 10.0.0.128/25\n");
        var error = Assert.Single(_files.Errors(lab));
        Assert.Contains("network 'wan': subnet 10.0.0.128/25 overlaps 10.0.0.0/24 of network 'lan'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disjoint_subnets_are_accepted() =>
        Assert.Equal(2, _files.Parse(Replace("    nat: true\n", "    nat: true\n  wan:\n    subnet: 10.0.1.0/24\n")).Networks.Count);

    [Theory]
    [InlineData("10.0.1.5/24", "is not a usable address of subnet 10.0.0.0/24")]
    [InlineData("10.0.0.0/24", "is not a usable address")]
    [InlineData("10.0.0.255/24", "is not a usable address")]
    [InlineData("10.0.0.9/16", "prefix length other than the subnet's")]
    [InlineData("10.0.0.1/24", "already taken by the host on network 'lan'")]
    [InlineData("10.0.0.254/24", "already taken by machine 'gw'")]
    [InlineData("10.0.0.999/24", "is not an IPv4 address")]
    public void Addresses_outside_their_subnet_or_taken_twice_are_rejected(string address, string message) =>
        Assert.Contains(_files.Errors(Replace("lan: { address: 10.0.0.10/24 }", $"lan: {{ address: {address} }}")), e => e.Message.Contains(message, StringComparison.Ordinal));

    [Fact]
    public void An_address_without_prefix_takes_the_subnet_s() =>
        Assert.Equal("10.0.0.10/24", _files.Parse(Replace("address: 10.0.0.10/24", "address: 10.0.0.10")).Machines["web"].Interfaces[0].Cidr);

    [Fact]
    public void A_host_address_outside_the_subnet_is_rejected() =>
        Assert.Contains("host: 10.1.0.1 is not a usable address", Assert.Single(_files.Errors(Replace("host: 10.0.0.1", "host: 10.1.0.1"))).Message, StringComparison.Ordinal);

    [Fact]
    public void A_gateway_outside_the_subnet_is_rejected() =>
        Assert.Contains("gateway: 10.9.0.1 is not another usable address", Assert.Single(_files.Errors(Replace("gateway: 10.0.0.1", "gateway: 10.9.0.1"))).Message, StringComparison.Ordinal);

    [Fact]
    public void References_to_missing_images_are_rejected() =>
        Assert.Contains("no image named 'arch'; expected one of: base", _files.Errors(Replace("  web:\n    image: base", "  web:\n    image: arch")).Single().Message, StringComparison.Ordinal);

    [Fact]
    public void References_to_missing_networks_are_rejected() =>
        Assert.Contains("no network named 'dmz'; expected one of: lan", _files.Errors(Replace("lan: { address: 10.0.0.10/24 }", "dmz: { address: 10.0.0.10/24 }")).Single().Message, StringComparison.Ordinal);

    [Fact]
    public void A_missing_image_key_is_rejected() =>
        Assert.Contains("machine 'web': missing key 'image'", _files.Errors(Replace("  web:\n    image: base\n", "  web:\n")).Single().Message, StringComparison.Ordinal);

    [Fact]
    public void Binds_resolve_against_the_lab_file_s_folder()
    {
        System.IO.Directory.CreateDirectory(Path.Combine(_files.Directory, "sadm"));
        var lab = _files.Parse(Replace("    tmpfs: [ /var/tmp ]", "    tmpfs: [ /var/tmp ]\n    binds: [ \"./sadm:/root/sadm:ro\" ]"));

        var bind = lab.Machines["gw"].Binds.Single();
        Assert.Equal(Path.Combine(_files.Directory, "sadm"), bind.HostPath);
        Assert.Equal("/root/sadm", bind.MachinePath);
        Assert.True(bind.ReadOnly);
    }

    [Theory]
    [InlineData("./missing:/root/x", "host path './missing' does not exist")]
    [InlineData("./:/root/../etc", "expected an absolute path inside the machine")]
    [InlineData("./:relative/path", "expected an absolute path inside the machine")]
    [InlineData("./:/root/x:rx", "has option 'rx'; expected ro or rw")]
    [InlineData("nocolon", "expected HOST_PATH:MACHINE_PATH")]
    public void Bad_binds_are_rejected(string bind, string message) =>
        Assert.Contains(message, Assert.Single(_files.Errors(Replace("    tmpfs: [ /var/tmp ]", $"    tmpfs: [ /var/tmp ]\n    binds: [ \"{bind}\" ]"))).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("var/tmp")]
    [InlineData("/var/../etc")]
    [InlineData("/")]
    public void Tmpfs_paths_must_be_absolute_and_plain(string path) =>
        Assert.Contains("expected an absolute path inside the machine", Assert.Single(_files.Errors(Replace("tmpfs: [ /var/tmp ]", $"tmpfs: [ \"{path}\" ]"))).Message, StringComparison.Ordinal);

    [Fact]
    public void Machines_have_user_namespaces_unless_they_opt_out()
    {
        Assert.True(_files.Parse(Replace("    tmpfs: [ /var/tmp ]", "    tmpfs: [ /var/tmp ]")).Machines["gw"].PrivateUsers);
        Assert.False(_files.Parse(Replace("    tmpfs: [ /var/tmp ]", "    tmpfs: [ /var/tmp ]\n    private_users: false")).Machines["gw"].PrivateUsers);
    }

    [Fact]
    public void A_read_only_root_is_read() =>
        Assert.True(_files.Parse(Replace("    tmpfs: [ /var/tmp ]", "    tmpfs: [ /var/tmp ]\n    read_only: true")).Machines["gw"].ReadOnlyRoot);

    [Fact]
    public void Bootstrap_methods_other_than_debootstrap_are_refused_clearly() =>
        Assert.Contains("'pacstrap' is not supported", Assert.Single(_files.Errors(Replace("bootstrap: debootstrap", "bootstrap: pacstrap"))).Message, StringComparison.Ordinal);

    [Fact]
    public void Nat_needs_a_host_address() =>
        Assert.Contains("NAT needs the host on the network", Assert.Single(_files.Errors(Replace("    host: 10.0.0.1\n", ""))).Message, StringComparison.Ordinal);

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var lab = Replace("lab: prolo", "lab: Prolo").Replace("nat: true", "nat: maybe", StringComparison.Ordinal).Replace("  web:\n    image: base", "  web:\n    image: arch", StringComparison.Ordinal);
        Assert.Equal(3, _files.Errors(lab).Count);
    }

    [Fact]
    public void Only_the_name_is_needed_to_find_an_edited_lab() =>
        Assert.Equal("prolo", LabParser.ReadName(_files.Write("lab: prolo\nmachines: { broken")));

    [Fact]
    public void A_root_password_file_is_read_as_a_path_and_never_as_its_content()
    {
        _files.Write("s3cret\n", "secrets/root");
        var lab = _files.Parse(Replace("    tmpfs: [ /var/tmp ]", "    tmpfs: [ /var/tmp ]\n    root_password_file: ./secrets/root"));
        Assert.Equal(Path.Combine(_files.Directory, "secrets/root"), lab.Machines["gw"].RootPasswordFile);
        Assert.Null(lab.Machines["web"].RootPasswordFile);
    }

    [Theory]
    [InlineData("./secrets/absent", "does not exist")]
    [InlineData("/etc/shadow", "is absolute")]
    [InlineData("../../secret", "leaves the lab file's folder")]
    public void A_bad_root_password_file_is_rejected(string path, string message) =>
        Assert.Contains(message, Assert.Single(_files.Errors(Replace("    tmpfs: [ /var/tmp ]", $"    tmpfs: [ /var/tmp ]\n    root_password_file: {path}"))).Message, StringComparison.Ordinal);
}
