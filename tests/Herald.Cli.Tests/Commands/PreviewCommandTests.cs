using System.Text.RegularExpressions;
using Herald.Campaigns;
using Herald.Cli.Commands;
using Herald.Tracking;
using MimeKit;

namespace Herald.Cli.Tests.Commands;

public class PreviewCommandTests
{
    [Fact]
    public void Preview_writes_eml_files_that_parse_back_with_tracking()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 5);
        var outDir = files.Path("out");
        using var output = new StringWriter();
        Assert.Equal(0, PreviewCommand.Run(path, outDir, 3, output, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
        var emls = Directory.GetFiles(outDir, "*.eml").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(3, emls.Length);
        using var message = MimeMessage.Load(emls[0], TestContext.Current.CancellationToken);
        var body = Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Equal(["text/plain", "text/html"], body.Select(p => p.ContentType.MimeType));
        Assert.Equal("Ada, your spring picks are here", message.Subject);
        Assert.Equal("Example Shop", message.From.Mailboxes.Single().Name);
        Assert.Equal("ada.smith.0@example.com", message.To.Mailboxes.Single().Address);
        Assert.Equal("garden", message.Headers["X-Campaign-Segment"]);
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers["List-Unsubscribe-Post"]);
        Assert.Contains("<mailto:unsubscribe@shop.example.com?subject=unsubscribe>", message.Headers["List-Unsubscribe"], StringComparison.Ordinal);
        var html = message.HtmlBody!;
        var clicks = Regex.Matches(html, "href=\"http://127\\.0\\.0\\.1:8080/c/([^\"]+)\"");
        Assert.True(clicks.Count >= 18);
        foreach (Match click in clicks)
        {
            Assert.True(CommandTestFiles.Signer.TryVerify(click.Groups[1].Value, out var token));
            Assert.Equal(TokenKind.Click, token.Kind);
            Assert.StartsWith("https://", token.Target, StringComparison.Ordinal);
        }

        Assert.Matches("<img src=\"http://127\\.0\\.0\\.1:8080/o/[^\"]+\" width=\"1\" height=\"1\"", html);
        var raw = File.ReadAllBytes(emls[0]);
        Assert.All(raw, b => Assert.True(b < 128));
        Assert.All(System.Text.Encoding.ASCII.GetString(raw).Split("\r\n"), line => Assert.True(line.Length <= 998));
        Assert.Contains("Wrote 3 message(s)", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Preview_skips_and_reports_header_injection_rows()
    {
        using var files = new CommandTestFiles();
        var dir = files.Path("c");
        var path = SampleCampaign.Write(dir, 2);
        File.WriteAllText(Path.Combine(dir, "recipients.csv"), "email,first_name,last_name,city,segment\nevil@example.com,\"Eve\r\nBcc: all@example.com\",X,Y,home\ngood@example.com,Gil,X,Y,home\n");
        using var output = new StringWriter();
        Assert.Equal(0, PreviewCommand.Run(path, files.Path("out"), 10, output, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
        Assert.Contains("recipients.csv:1: rejected: header-injection: Subject", output.ToString(), StringComparison.Ordinal);
        var eml = Assert.Single(Directory.GetFiles(files.Path("out"), "*.eml"));
        Assert.DoesNotContain("Bcc", File.ReadAllText(eml), StringComparison.Ordinal);
    }

    [Fact]
    public void Preview_stops_at_the_limit_and_rejects_a_bad_limit()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 20);
        Assert.Equal(0, PreviewCommand.Run(path, files.Path("out"), 10, TextWriter.Null, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
        Assert.Equal(10, Directory.GetFiles(files.Path("out"), "*.eml").Length);
        Assert.Throws<HeraldException>(() => PreviewCommand.Run(path, files.Path("out2"), 0, TextWriter.Null, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
    }
}
