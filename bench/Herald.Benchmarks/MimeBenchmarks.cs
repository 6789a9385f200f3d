using System.Text;
using BenchmarkDotNet.Attributes;
using Herald.Rendering;
using MimeKit;
using MimeKit.Encodings;

namespace Herald.Benchmarks;

/// <summary>
/// Encoding and writing the ~50 kB body of one email: Herald's pre-encoded multipart (one CRLF quoted-printable pass,
/// one write) against MimeKit's own parts (encoder with LF, then filters and 4 kB chunked copies on write).
/// </summary>
[MemoryDiagnoser]
public class MimeBenchmarks
{
    private static readonly FormatOptions Wire = CreateWireOptions();
    private StringBuilder _html = new();
    private StringBuilder _text = new();
    private byte[] _htmlUtf8 = [];

    [GlobalSetup]
    public void Setup()
    {
        var html = new StringBuilder();
        var text = new StringBuilder();
        for (var i = 0; html.Length < 44_000; i++)
        {
            html.Append("<tr><td style=\"padding: 12px; font-family: Helvetica, Arial, sans-serif; color: #555555;\">Product ")
                .Append(i).Append(" – hand-made, 29.90 €, <a href=\"https://t.shop.example.com/c/AQEOYmVuY2gtc3RhbmRhcmQUZmFiNTkzM2Qx\">see it</a></td></tr>\n");
            text.Append("Product ").Append(i).Append(" – hand-made, 29.90 € (https://t.shop.example.com/c/AQEOYmVuY2gtc3RhbmRhcmQUZmFiNTkzM2Qx)\n");
        }

        _html = html;
        _text = text;
        _htmlUtf8 = Encoding.UTF8.GetBytes(html.ToString());
    }

    [Benchmark]
    public int HeraldQuotedPrintable()
    {
        var output = new byte[QuotedPrintable.MaxEncodedLength(_htmlUtf8.Length)];
        return QuotedPrintable.Encode(_htmlUtf8, output);
    }

    [Benchmark]
    public int MimeKitQuotedPrintable()
    {
        var encoder = new QuotedPrintableEncoder();
        var output = new byte[encoder.EstimateOutputLength(_htmlUtf8.Length)];
        return encoder.Flush(_htmlUtf8, 0, _htmlUtf8.Length, output);
    }

    [Benchmark(Baseline = true)]
    public long MimeKitPartsBuildAndWrite()
    {
        using var body = new MultipartAlternative
        {
            new TextPart("plain") { Text = _text.ToString(), ContentTransferEncoding = ContentEncoding.QuotedPrintable },
            new TextPart("html") { Text = _html.ToString(), ContentTransferEncoding = ContentEncoding.QuotedPrintable },
        };
        using var sink = new CountingStream();
        body.WriteTo(Wire, sink);
        return sink.Length;
    }

    [Benchmark]
    public long PreEncodedBuildAndWrite()
    {
        using var body = PreEncodedAlternative.Create(_text, _html);
        using var sink = new CountingStream();
        body.WriteTo(Wire, sink);
        return sink.Length;
    }

    private static FormatOptions CreateWireOptions()
    {
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        return options;
    }
}
