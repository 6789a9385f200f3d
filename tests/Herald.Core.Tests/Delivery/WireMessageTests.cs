using System.Text;
using Herald.Delivery;
using MimeKit;

namespace Herald.Core.Tests.Delivery;

public class WireMessageTests
{
    [Fact]
    public void Create_dot_stuffs_every_line_that_starts_with_a_dot_and_ends_with_the_terminator()
    {
        using var message = Message(".first\r\nmiddle\r\n..two\r\n.\r\nlast");
        using var wire = WireMessage.Create(message);
        var text = Encoding.ASCII.GetString(wire.Bytes.Span);

        Assert.EndsWith("\r\n.\r\n", text, StringComparison.Ordinal);
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..^3];
        Assert.Equal("..first\r\nmiddle\r\n...two\r\n..\r\nlast\r\n", body);
        // Exactly one terminator: no line of the content is a lone dot any more.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "\r\n\\.\r\n"));
    }

    [Fact]
    public void Create_hides_Bcc_and_uses_CRLF_only()
    {
        using var message = Message("a\nb\n");
        message.Bcc.Add(new MailboxAddress("", "hidden@example.com"));
        using var wire = WireMessage.Create(message);
        var text = Encoding.ASCII.GetString(wire.Bytes.Span);

        Assert.DoesNotContain("hidden@example.com", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", text.Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    private static MimeMessage Message(string body)
    {
        var message = new MimeMessage((IEnumerable<Header>)[]) { Subject = "s", MessageId = "1@example.com" };
        message.From.Add(new MailboxAddress("", "from@example.com"));
        message.To.Add(new MailboxAddress("", "to@example.com"));
        message.Body = new TextPart("plain") { Text = body, ContentTransferEncoding = ContentEncoding.SevenBit };
        return message;
    }
}
