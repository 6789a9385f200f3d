using System.Text;
using Herald.Rendering;
using MimeKit.Encodings;

namespace Herald.Core.Tests.Rendering;

public class QuotedPrintableTests
{
    [Theory]
    [InlineData("")]
    [InlineData("plain ascii")]
    [InlineData("a = b, 100 € and naïve café\nnext line\r\nthird")]
    [InlineData("trailing space \nand tab\t\nand at the end ")]
    [InlineData("lone\rcarriage return")]
    [InlineData(".leading dot\n..two\n")]
    public void Encode_round_trips_through_a_standard_decoder(string text)
    {
        Assert.Equal(Normalize(text), Decode(Encode(text)));
    }

    [Fact]
    public void Encode_round_trips_random_text_and_keeps_every_rule()
    {
        var random = new Random(42);
        const string alphabet = "abcdefghij KLMNOP=.\t\n\r€éü<>\"'&;:/?#0123456789";
        for (var round = 0; round < 200; round++)
        {
            var text = new string(Enumerable.Range(0, random.Next(0, 600)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            var encoded = Encode(text);
            Assert.Equal(Normalize(text), Decode(encoded));
            var ascii = Encoding.ASCII.GetString(encoded);
            Assert.DoesNotContain("=_", ascii, StringComparison.Ordinal);
            Assert.DoesNotContain("=-", ascii, StringComparison.Ordinal);
            Assert.All(encoded, b => Assert.True(b < 128, "7-bit only"));
            // Every line break is CRLF, lines stay within 76 characters, no white space right before a line end.
            var lines = ascii.Split("\r\n");
            Assert.All(lines, line =>
            {
                Assert.True(line.Length <= 76, $"line of {line.Length}: {line}");
                Assert.DoesNotContain('\r', line);
                Assert.DoesNotContain('\n', line);
                Assert.False(line.EndsWith(' ') || line.EndsWith('\t'), $"trailing white space: [{line}]");
            });
        }
    }

    [Fact]
    public void Encode_breaks_long_literal_runs_with_soft_line_breaks()
    {
        var text = new string('x', 1000);
        var ascii = Encoding.ASCII.GetString(Encode(text));
        Assert.All(ascii.Split("\r\n")[..^1], line => Assert.Equal("=", line[^1..]));
        Assert.Equal(text, Decode(Encoding.ASCII.GetBytes(ascii)));
    }

    private static byte[] Encode(string text)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        QuotedPrintable.Encode(new StringBuilder(text), output);
        return output.WrittenSpan.ToArray();
    }

    private static string Decode(byte[] encoded)
    {
        var decoder = new QuotedPrintableDecoder();
        var output = new byte[decoder.EstimateOutputLength(encoded.Length)];
        var length = decoder.Decode(encoded, 0, encoded.Length, output);
        return Encoding.UTF8.GetString(output, 0, length);
    }

    // Line ends become CRLF on the wire; a lone CR is kept (encoded).
    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal);
}
