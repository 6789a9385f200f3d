using System.Text.RegularExpressions;
using Herald.Campaigns;
using Herald.Cli.Commands;
using Herald.Tracking;
using MimeKit;

namespace Herald.Cli.Tests.Commands;

public class PreviewCommandTests
{
    [Fact]
    public async Task Preview_writes_eml_files_that_parse_back_with_tracking()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 5);
        var outDir = files.Path("out");
        using var output = new StringWriter();
        Assert.Equal(0, await PreviewCommand.RunAsync(path, outDir, 3, null, output, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
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
    public async Task Preview_skips_and_reports_header_injection_rows()
    {
        using var files = new CommandTestFiles();
        var dir = files.Path("c");
        var path = SampleCampaign.Write(dir, 2);
        File.WriteAllText(Path.Combine(dir, "recipients.csv"), "email,first_name,last_name,city,segment\nevil@example.com,\"Eve\r\nBcc: all@example.com\",X,Y,home\ngood@example.com,Gil,X,Y,home\n");
        using var output = new StringWriter();
        Assert.Equal(0, await PreviewCommand.RunAsync(path, files.Path("out"), 10, null, output, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
        Assert.Contains("evil@example.com (", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("): rejected: header-injection: Subject", output.ToString(), StringComparison.Ordinal);
        var eml = Assert.Single(Directory.GetFiles(files.Path("out"), "*.eml"));
        Assert.DoesNotContain("Bcc", File.ReadAllText(eml), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Preview_stops_at_the_limit_and_rejects_a_bad_limit()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 20);
        Assert.Equal(0, await PreviewCommand.RunAsync(path, files.Path("out"), 10, null, TextWriter.Null, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
        Assert.Equal(10, Directory.GetFiles(files.Path("out"), "*.eml").Length);
        await Assert.ThrowsAsync<HeraldException>(() => PreviewCommand.RunAsync(path, files.Path("out2"), 0, null, TextWriter.Null, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Preview_shows_the_joined_per_recipient_data_as_the_plan_will_send_it()
    {
        using var files = new CommandTestFiles();
        var dir = files.Path("c");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "campaign.yml"), """
            id: picks
            from: "Shop <news@shop.example.com>"
            subject: "{{ first_name }}, {{ products.size }} picks"
            html: body.html
            recipients: recipients.csv
            tracking: { base_url: "https://t.example.com" }
            postal_address: "1 Market St"
            data:
              products: { file: products.csv, key: customer_id, recipient_key: id, many: true, limit: 2, required: true }
            relays:
              - url: smtp://127.0.0.1:2525
            """);
        File.WriteAllText(Path.Combine(dir, "body.html"), "<html><body>{% for p in products %}<p>{{ p.name }}</p>{% endfor %}<a href=\"{{ unsubscribe_url }}\">u</a></body></html>");
        File.WriteAllText(Path.Combine(dir, "recipients.csv"), "id,email,first_name\n1,ann@example.com,Ann\n2,bob@example.com,Bob\n3,cy@example.com,Cy\n");
        File.WriteAllText(Path.Combine(dir, "products.csv"), "customer_id,name\n2,Rake\n1,Hoe\n1,Spade\n1,Shears\n");

        using var output = new StringWriter();
        Assert.Equal(0, await PreviewCommand.RunAsync(Path.Combine(dir, "campaign.yml"), files.Path("out"), 10, null, output, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));

        var emls = Directory.GetFiles(files.Path("out"), "*.eml").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(2, emls.Length);
        using var ann = MimeMessage.Load(emls[0], TestContext.Current.CancellationToken);
        Assert.Equal("Ann, 2 picks", ann.Subject);
        Assert.Contains("<p>Hoe</p><p>Spade</p>", ann.HtmlBody, StringComparison.Ordinal);
        Assert.DoesNotContain("Shears", ann.HtmlBody, StringComparison.Ordinal);
        using var bob = MimeMessage.Load(emls[1], TestContext.Current.CancellationToken);
        Assert.Contains("<p>Rake</p>", bob.HtmlBody, StringComparison.Ordinal);
        Assert.Contains("1 skipped", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "herald.db")), "preview must not create or change the store");
    }

    [Fact]
    public async Task Preview_uses_the_fresh_plan_in_the_store_and_changes_nothing()
    {
        using var files = new CommandTestFiles();
        var path = SampleCampaign.Write(files.Path("c"), 4);
        var db = Path.Combine(files.Path("c"), "herald.db");
        var prepare = await HeraldProcess.RunAsync("prepare", path, "--db", db);
        Assert.True(prepare.Exit == 0, prepare.Out + prepare.Error);
        var before = File.ReadAllBytes(db);

        // No --db: the herald.db beside the campaign is found by the store rule.
        using var output = new StringWriter();
        Assert.Equal(0, await PreviewCommand.RunAsync(path, files.Path("out"), 2, null, output, () => CommandTestFiles.Signer, TestContext.Current.CancellationToken));

        Assert.StartsWith($"store: {db} (found walking up from {files.Path("c")})", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"Previewing the plan in {db}", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetFiles(files.Path("out"), "*.eml").Length);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Equal(before, File.ReadAllBytes(db));
    }
}
