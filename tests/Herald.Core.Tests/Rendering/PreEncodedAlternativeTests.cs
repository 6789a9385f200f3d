using System.Text;
using Herald.Rendering;
using MimeKit;

namespace Herald.Core.Tests.Rendering;

public class PreEncodedAlternativeTests
{
    [Fact]
    public void Written_body_parses_back_to_the_same_text_and_html()
    {
        var text = new StringBuilder("Hello Zoë,\nyour 8 picks: 29.90 €\n.a line with a leading dot\n");
        var html = new StringBuilder("<p>Hello <b>Zoë</b> &amp; co</p>\n<a href=\"https://t.example.com/c/AQE=x\">see</a>\n" + new string('y', 300));
        using var message = new MimeMessage((IEnumerable<Header>)[]) { Subject = "picks" };
        message.From.Add(new MailboxAddress("Shop", "news@shop.example.com"));
        message.To.Add(new MailboxAddress("", "zoe@example.com"));
        message.Body = PreEncodedAlternative.Create(text, html);

        var wire = FormatOptions.Default.Clone();
        wire.NewLineFormat = NewLineFormat.Dos;
        using var stream = new MemoryStream();
        message.WriteTo(wire, stream, TestContext.Current.CancellationToken);
        var bytes = stream.ToArray();
        Assert.DoesNotContain("\n", Encoding.ASCII.GetString(bytes).Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);

        stream.Position = 0;
        using var parsed = MimeMessage.Load(stream, TestContext.Current.CancellationToken);
        Assert.Equal(text.ToString(), parsed.TextBody?.ReplaceLineEndings("\n"));
        Assert.Equal(html.ToString(), parsed.HtmlBody?.ReplaceLineEndings("\n"));
        Assert.Equal("multipart/alternative", parsed.Body!.ContentType.MimeType);
    }

    [Fact]
    public void In_memory_parts_read_the_same_bytes_as_the_wire()
    {
        using var body = PreEncodedAlternative.Create(new StringBuilder("text part"), new StringBuilder("<p>html part</p>"));
        using var message = new MimeMessage((IEnumerable<Header>)[]) { Body = body };
        Assert.Equal("text part", message.TextBody);
        Assert.Equal("<p>html part</p>", message.HtmlBody);
        var serialized = Encoding.ASCII.GetString(body.Body);
        Assert.StartsWith($"--{body.Boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n", serialized, StringComparison.Ordinal);
        Assert.EndsWith($"\r\n--{body.Boundary}--\r\n", serialized, StringComparison.Ordinal);
    }

    [Fact]
    public void Unix_line_ends_fall_back_to_MimeKit_serialization()
    {
        using var message = new MimeMessage((IEnumerable<Header>)[]) { Body = PreEncodedAlternative.Create(new StringBuilder("a\nb"), new StringBuilder("<p>c</p>")) };
        var unix = FormatOptions.Default.Clone();
        unix.NewLineFormat = NewLineFormat.Unix;
        using var stream = new MemoryStream();
        message.WriteTo(unix, stream, TestContext.Current.CancellationToken);
        Assert.DoesNotContain("\r\n", Encoding.ASCII.GetString(stream.ToArray()), StringComparison.Ordinal);
        stream.Position = 0;
        using var parsed = MimeMessage.Load(stream, TestContext.Current.CancellationToken);
        Assert.Equal("<p>c</p>", parsed.HtmlBody);
    }
}
