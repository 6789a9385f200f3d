using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Herald.Dkim;

namespace Herald.Core.Tests.Dkim;

public partial class RelaxedCanonicalizationTests
{
    [Fact]
    public void Body_and_headers_match_the_example_of_RFC_6376_section_3_4_5()
    {
        Assert.Equal(" C\r\nD E\r\n", Canonical(" C \r\nD \t E\r\n\r\n\r\n", dotStuffed: false));
        Assert.Equal("a:X\r\n", Header("A: X\r\n"));
        Assert.Equal("b:Y Z\r\n", Header("B : Y\t\r\n\tZ  \r\n"));
    }

    [Fact]
    public void Empty_lines_and_white_space_only_lines_at_the_end_are_dropped_and_a_last_line_gets_its_CRLF()
    {
        Assert.Equal("a\r\n", Canonical("a\r\n\r\n \t \r\n\r\n", dotStuffed: false));
        Assert.Equal("a\r\nb\r\n", Canonical("a\r\nb", dotStuffed: false));
        Assert.Equal("a\r\n\r\nb\r\n", Canonical("a\r\n  \r\nb  ", dotStuffed: false));
        Assert.Equal("", Canonical("\r\n\r\n", dotStuffed: false));
    }

    [Fact]
    public void Dot_stuffed_input_hashes_as_the_message_the_receiver_rebuilds()
    {
        Assert.Equal(".a\r\n\r\n.\r\nb .c\r\n", Canonical("..a\r\n\r\n..\r\nb .c\r\n", dotStuffed: true));
        Assert.Equal(".x\r\n", Canonical("..x", dotStuffed: true));
    }

    [Fact]
    public void Random_bodies_hash_like_a_line_by_line_reading_of_the_RFC_stuffed_or_not()
    {
        var random = new Random(6376);
        string[] pieces = ["a", "bc", " ", "  ", "\t", ".", "..", "\r\n", "\r\n", "\r\n.", "é", "="];
        for (var round = 0; round < 3000; round++)
        {
            var body = new StringBuilder();
            var count = random.Next(0, 40);
            for (var i = 0; i < count; i++)
            {
                body.Append(pieces[random.Next(pieces.Length)]);
            }

            var text = body.ToString();
            var expected = Reference(text);
            Assert.True(expected == Canonical(text, dotStuffed: false), $"plain: {Escape(text)}");
            Assert.True(expected == Canonical(Stuff(text), dotStuffed: true), $"stuffed: {Escape(text)}");
        }
    }

    /// <summary>RFC 6376 §3.4.4 read literally, one line at a time.</summary>
    private static string Reference(string body)
    {
        var lines = body.Split("\r\n").ToList();
        if (lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        var reduced = lines.Select(l => Whitespace().Replace(l, " ").TrimEnd(' ')).ToList();
        while (reduced.Count > 0 && reduced[^1].Length == 0)
        {
            reduced.RemoveAt(reduced.Count - 1);
        }

        return reduced.Count == 0 ? "" : string.Join("\r\n", reduced) + "\r\n";
    }

    private static string Stuff(string body) =>
        string.Join("\r\n", body.Split("\r\n").Select(l => l.StartsWith('.') ? "." + l : l));

    /// <summary>Hashes with the production code, and recovers the canonical text by hashing candidates: compares digests.</summary>
    private static string Canonical(string body, bool dotStuffed)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        RelaxedCanonicalization.HashBody(Encoding.UTF8.GetBytes(body), dotStuffed, hash);
        var digest = hash.GetHashAndReset();
        // The canonical text is whatever the reference produces when the digests agree; otherwise show both.
        var reference = Reference(dotStuffed ? Unstuff(body) : body);
        return SHA256.HashData(Encoding.UTF8.GetBytes(reference)).AsSpan().SequenceEqual(digest) ? reference : $"<digest differs from reference '{Escape(reference)}'>";
    }

    private static string Unstuff(string body) =>
        string.Join("\r\n", body.Split("\r\n").Select(l => l.StartsWith('.') ? l[1..] : l));

    private static string Header(string field)
    {
        var output = new byte[RelaxedCanonicalization.MaxHeaderLength(field.Length)];
        var length = RelaxedCanonicalization.Header(Encoding.ASCII.GetBytes(field), output);
        return Encoding.ASCII.GetString(output, 0, length);
    }

    private static string Escape(string text) => text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);

    [GeneratedRegex("[ \t]+")]
    private static partial Regex Whitespace();
}
