using CsCheck;
using Spawnlab.Labs;

namespace Spawnlab.Tests.Labs;

/// <summary>
/// A corpus of malformed lab files (tests/Spawnlab.Tests/Corpus), each with the message it must give on its first
/// line, and a property-based run that mutates a valid lab file: the parser only ever answers with a lab or with
/// lab-file errors, never with another exception.
/// </summary>
public sealed class BadInputSpecs
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Corpus");

    public static TheoryData<string> CorpusFiles() =>
        [.. Directory.GetFiles(Corpus, "*.yaml").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal)];

    [Fact]
    public void The_corpus_holds_at_least_40_malformed_lab_files() =>
        Assert.True(Directory.GetFiles(Corpus, "*.yaml").Length >= 40);

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Each_malformed_lab_file_gives_exit_code_2_and_one_clear_message_with_file_line_and_column(string file)
    {
        var path = Path.Combine(Corpus, file);
        var expected = File.ReadLines(path).First()["# expect: ".Length..];

        var error = Assert.Throws<LabFileException>(() => LabParser.ParseFile(path));

        Assert.Equal(2, error.ExitCode);
        var only = Assert.Single(error.Errors);
        Assert.Contains(expected, only.Message, StringComparison.Ordinal);
        Assert.Equal(path, only.File);
        Assert.True(only.Line >= 1 && only.Column >= 1, $"position {only.Line}:{only.Column}");
        Assert.StartsWith($"{path}:{only.Line}:{only.Column}: ", only.ToString(), StringComparison.Ordinal);
    }

    private const string Valid = """
        lab: fuzz
        images:
          base:
            packages: [curl, nginx]
            setup: echo hi
        networks:
          lan: { subnet: 10.0.0.0/24, host: 10.0.0.1, nat: true, dhcp: true }
        machines:
          gw:
            image: base
            forward: true
            networks:
              lan: { address: 10.0.0.254/24, gateway: 10.0.0.1 }
            tmpfs: [ /var/tmp ]
            stages:
              - name: dns
                run: systemctl enable --now dnsmasq
                checks:
                  - service: dnsmasq
                  - dns: web.fuzz
                    address: 10.0.0.10
                    timeout: 5s
          web:
            image: base
            networks:
              lan: { dhcp: true, address: 10.0.0.10 }
            after: [ gw/dns ]
            stages:
              - name: site
                after: [ gw/dns ]
                checks: [ { http: "http://localhost/", status: 200 }, { port: 80, proto: tcp } ]
        """;

    private static readonly string Alphabet = " :-[]{},\n\t#'\"&*!|>%@`/.0123456789abcdlnstuwxyz";

    [Fact]
    public void Mutations_of_a_valid_lab_file_never_crash_the_parser()
    {
        var mutation =
            from count in Gen.Int[1, 6]
            from edits in Gen.Select(Gen.Int[0, Valid.Length], Gen.Int[0, 3], Gen.Char[Alphabet]).Array[count]
            select edits;

        mutation.Sample(edits =>
        {
            var text = Valid;
            foreach (var (at, kind, c) in edits)
            {
                var i = Math.Min(at, text.Length);
                text = kind switch
                {
                    0 => text.Insert(i, c.ToString()),
                    1 when i < text.Length => text.Remove(i, 1),
                    2 when i < text.Length => text.Remove(i, 1).Insert(i, c.ToString()),
                    _ => text.Insert(i, text[..Math.Min(text.Length, 40)]),
                };
            }
            ParseOrReject(text);
        }, iter: 3000);
    }

    [Fact]
    public void Random_text_never_crashes_the_parser() =>
        Gen.String[Gen.Char[Alphabet], 0, 200].Sample(ParseOrReject, iter: 3000);

    [Fact]
    public void Deep_nesting_and_control_characters_anywhere_never_crash_the_parser()
    {
        var input =
            from depth in Gen.Int[0, 5000]
            from open in Gen.Char["[{-"]
            from controls in Gen.Char['\0', '\u001f'].Array[0, 4]
            from at in Gen.Int[0, Valid.Length]
            select (depth, open, controls, at);

        input.Sample(t =>
        {
            var nesting = t.open == '-' ? string.Concat(Enumerable.Repeat("- ", t.depth)) : new string(t.open, t.depth);
            ParseOrReject(Valid.Insert(t.at, new string(t.controls) + nesting));
            ParseOrReject(Valid.Insert(t.at, new string(t.controls)));
        }, iter: 400);
    }

    private static void ParseOrReject(string text)
    {
        try
        {
            LabParser.Parse(text, "/nonexistent/fuzz.yaml");
        }
        catch (LabFileException)
        {
        }
    }
}
