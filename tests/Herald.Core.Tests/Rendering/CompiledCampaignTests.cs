using Herald.Campaigns;
using Herald.Rendering;
using Herald.Tracking;
using MimeKit;

namespace Herald.Core.Tests.Rendering;

public class CompiledCampaignTests
{
    private static (CompiledCampaign Compiled, TestFiles Files) Compile(string html, string extra = "", string subject = "Hello {{ first_name }}", params string[] columns)
    {
        var files = new TestFiles();
        var path = files.Campaign(html: html, extra: extra, subject: subject);
        var campaign = CampaignLoader.Load(path);
        return (CampaignTemplates.Compile(campaign, columns.Length == 0 ? ["email", "first_name"] : columns, TestFiles.Signer), files);
    }

    private static MimeMessage RoundTrip(MimeMessage message)
    {
        using var stream = new MemoryStream();
        message.WriteTo(stream, TestContext.Current.CancellationToken);
        stream.Position = 0;
        return MimeMessage.Load(stream, TestContext.Current.CancellationToken);
    }

    private static TrackingToken Verify(string url, string prefix)
    {
        Assert.StartsWith(prefix, url, StringComparison.Ordinal);
        Assert.True(TestFiles.Signer.TryVerify(url.AsSpan(prefix.Length), out var token), url);
        return token;
    }

    [Fact]
    public void Create_builds_multipart_alternative_with_headers()
    {
        var (compiled, files) = Compile("<html><body><p>Hi {{ first_name }}</p></body></html>", "reply_to: help@shop.example.com\nunsubscribe: { mailto: unsub@shop.example.com }\nheaders: { X-Topic: \"t-{{ first_name }}\" }");
        using var _ = files;
        using var original = compiled.Create(TestFiles.Item(compiled, "r1", "ann@example.com", ("first_name", "Ann")));
        using var message = RoundTrip(original);
        var body = Assert.IsType<MultipartAlternative>(message.Body);
        Assert.Equal("text/plain", body[0].ContentType.MimeType);
        Assert.Equal("text/html", body[1].ContentType.MimeType);
        Assert.Equal("utf-8", body[1].ContentType.Charset);
        Assert.Equal("Hello Ann", message.Subject);
        Assert.Equal("news@shop.example.com", message.From.Mailboxes.Single().Address);
        Assert.Equal("ann@example.com", message.To.Mailboxes.Single().Address);
        Assert.Equal("help@shop.example.com", message.ReplyTo.Mailboxes.Single().Address);
        Assert.Equal(MessageIds.Create("test-campaign", "r1", "shop.example.com"), message.MessageId);
        Assert.Equal("t-Ann", message.Headers["X-Topic"]);
        Assert.Equal("List-Unsubscribe=One-Click", message.Headers["List-Unsubscribe-Post"]);
        var listUnsubscribe = message.Headers["List-Unsubscribe"]!.Replace("\r\n", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        var parts = listUnsubscribe.Split(',');
        var token = Verify(parts[0].Trim('<', '>'), "https://t.example.com/u/");
        Assert.Equal(new TrackingToken(TokenKind.Unsubscribe, "test-campaign", "r1", 0, null), token);
        Assert.Equal("<mailto:unsub@shop.example.com?subject=unsubscribe>", parts[1]);
        Assert.True(Math.Abs((DateTimeOffset.UtcNow - message.Date).TotalMinutes) < 5);
        Assert.Contains("<p>Hi Ann</p>", ((TextPart)body[1]).Text!, StringComparison.Ordinal);
        Assert.Equal("Hi Ann\n", ((TextPart)body[0]).Text.Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Fact]
    public void Create_uses_the_work_item_message_id()
    {
        var (compiled, files) = Compile("<p>x</p>");
        using var _ = files;
        var item = TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "A")) with { MessageId = "fixed.1@shop.example.com" };
        using var message = compiled.Create(item);
        Assert.Equal("fixed.1@shop.example.com", message.MessageId);
    }

    [Fact]
    public void Create_encodes_non_ascii_subject_and_display_names_with_rfc2047()
    {
        using var files = new TestFiles();
        var path = files.Campaign(subject: "Zoë, {{ first_name }} ☀");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"Shop <news@", "\"Café Ünïcode <news@", StringComparison.Ordinal));
        var compiled = CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer);
        using var message = compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "José")));
        using var stream = new MemoryStream();
        message.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, stream, TestContext.Current.CancellationToken);
        var raw = System.Text.Encoding.ASCII.GetString(stream.ToArray());
        var subjectLine = raw.Split("\r\n").First(l => l.StartsWith("Subject:", StringComparison.Ordinal));
        Assert.Contains("=?utf-8?", subjectLine, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("From: =?utf-8?", raw, StringComparison.OrdinalIgnoreCase);
        // A URL cannot be folded: the List-Unsubscribe header and its continuation lines (" <https://…>") may be longer.
        Assert.True(raw.Split("\r\n").All(l => l.Length <= 78 || l.StartsWith("List-Unsubscribe", StringComparison.Ordinal) || l.StartsWith(" <https://", StringComparison.Ordinal)),
            "a line is longer than 78 characters: " + string.Join(" / ", raw.Split("\r\n").Where(l => l.Length > 78)));
        Assert.True(stream.ToArray().All(b => b < 128), "raw message must be 7-bit");
        stream.Position = 0;
        using var parsed = MimeMessage.Load(stream, TestContext.Current.CancellationToken);
        Assert.Equal("Zoë, José ☀", parsed.Subject);
        Assert.Equal("Café Ünïcode", parsed.From.Mailboxes.Single().Name);
    }

    [Fact]
    public void Create_escapes_html_in_values_and_raw_only_through_the_filter()
    {
        var (compiled, files) = Compile("<p>{{ first_name }}</p><div>{{ first_name | raw }}</div>");
        using var _ = files;
        using var message = compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "<b>Ann & \"Co\"</b>")));
        var html = message.HtmlBody!;
        Assert.Contains("<p>&lt;b&gt;Ann &amp; &quot;Co&quot;&lt;/b&gt;</p>", html, StringComparison.Ordinal);
        Assert.Contains("<div><b>Ann & \"Co\"</b></div>", html, StringComparison.Ordinal);
        Assert.Contains("<b>Ann & \"Co\"</b>", message.TextBody!, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_renders_missing_and_empty_values_as_empty()
    {
        var (compiled, files) = Compile("<p>[{{ first_name }}]</p>");
        using var _ = files;
        using var empty = compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "")));
        Assert.Contains("<p>[]</p>", empty.HtmlBody!, StringComparison.Ordinal);
        using var missing = compiled.Create(TestFiles.Item(compiled, "r2", "b@example.com"));
        Assert.Contains("<p>[]</p>", missing.HtmlBody!, StringComparison.Ordinal);
        Assert.Equal("Hello", missing.Subject!.TrimEnd());
    }

    [Fact]
    public void Create_provides_the_built_in_variables()
    {
        var (compiled, files) = Compile("<p>{{ email }}|{{ recipient_id }}|{{ postal_address }}|{{ campaign.id }}|{{ unsubscribe_url }}</p>");
        using var _ = files;
        using var message = compiled.Create(TestFiles.Item(compiled, "r9", "a@example.com"));
        var values = message.HtmlBody!.Split("<p>")[1].Split("</p>")[0].Split('|');
        Assert.Equal(["a@example.com", "r9", "1 Market St", "test-campaign"], values[..4]);
        Assert.Equal(TokenKind.Unsubscribe, Verify(values[4], "https://t.example.com/u/").Kind);
    }

    [Theory]
    [InlineData("Hi {{ first_name }}", "Subject")]
    public void Create_rejects_a_recipient_whose_data_puts_a_line_break_in_a_header(string subject, string header)
    {
        var (compiled, files) = Compile("<p>x</p>", "headers: { X-Name: \"{{ first_name }}\" }", subject);
        using var _ = files;
        var ex = Assert.Throws<RecipientRejectedException>(() => compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "Ann\r\nBcc: victim@example.com"))));
        Assert.Equal("r1", ex.RecipientId);
        Assert.Equal($"header-injection: {header}", ex.Reason);
        var ex2 = Assert.Throws<RecipientRejectedException>(() => compiled.Create(TestFiles.Item(compiled, "r2", "a@example.com", ("first_name", "Ann\nX"))));
        Assert.Equal("header-injection: Subject", ex2.Reason);
        // The next recipient is unaffected.
        using var ok = compiled.Create(TestFiles.Item(compiled, "r3", "b@example.com", ("first_name", "Bob")));
        Assert.Equal("Bob", ok.Headers["X-Name"]);
    }

    [Fact]
    public void Create_rejects_line_breaks_in_custom_headers()
    {
        var (compiled, files) = Compile("<p>x</p>", "headers: { X-Name: \"{{ first_name }}\" }", "static");
        using var _ = files;
        var ex = Assert.Throws<RecipientRejectedException>(() => compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "a\rb"))));
        Assert.Equal("header-injection: X-Name", ex.Reason);
    }

    [Fact]
    public void Create_tracks_links_with_signed_tokens_carrying_the_target()
    {
        const string Html = """
            <html><body>
            <a href="https://shop.example.com/a?x=1&amp;y=2">A</a>
            <A class="b" HREF='http://shop.example.com/b'>B</A>
            <a href="https://shop.example.com/p/{{ first_name }}?r={{ recipient_id }}">P</a>
            <a href="mailto:help@shop.example.com">mail</a>
            <a href="tel:+15550100">tel</a>
            <a href="#top">top</a>
            <a href="{{ unsubscribe_url }}">unsub</a>
            <a href="https://shop.example.com/prefs" data-herald-notrack>prefs</a>
            </body></html>
            """;
        var (compiled, files) = Compile(Html);
        using var _ = files;
        using var message = RoundTrip(compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "Zoë & Co"))));
        var html = message.HtmlBody!;
        var hrefs = System.Text.RegularExpressions.Regex.Matches(html, "(?i)href=[\"']([^\"']*)[\"']").Select(m => m.Groups[1].Value).ToList();
        var a = Verify(hrefs[0], "https://t.example.com/c/");
        Assert.Equal(new TrackingToken(TokenKind.Click, "test-campaign", "r1", 1, "https://shop.example.com/a?x=1&y=2"), a);
        Assert.Equal("http://shop.example.com/b", Verify(hrefs[1], "https://t.example.com/c/").Target);
        var p = Verify(hrefs[2], "https://t.example.com/c/");
        Assert.Equal(3, p.LinkNumber);
        Assert.Equal("https://shop.example.com/p/Zoë & Co?r=r1", p.Target);
        Assert.Equal("mailto:help@shop.example.com", hrefs[3]);
        Assert.Equal("tel:+15550100", hrefs[4]);
        Assert.Equal("#top", hrefs[5]);
        Assert.Equal(TokenKind.Unsubscribe, Verify(hrefs[6], "https://t.example.com/u/").Kind);
        Assert.Equal("https://shop.example.com/prefs", hrefs[7]);
        Assert.Equal(3, compiled.Links);

        var pixel = System.Text.RegularExpressions.Regex.Match(html, "<img src=\"([^\"]+)\" width=\"1\" height=\"1\"[^>]*/></body>");
        Assert.True(pixel.Success, html);
        Assert.Equal(new TrackingToken(TokenKind.Open, "test-campaign", "r1", 0, null), Verify(pixel.Groups[1].Value, "https://t.example.com/o/"));

        var text = message.TextBody!;
        Assert.Contains("A (https://t.example.com/c/", text, StringComparison.Ordinal);
        Assert.Contains("mail (mailto:help@shop.example.com)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("<a", text, StringComparison.Ordinal);
        var textP = System.Text.RegularExpressions.Regex.Match(text, @"P \((https://t\.example\.com/c/[^)]+)\)");
        Assert.Equal("https://shop.example.com/p/Zoë & Co?r=r1", Verify(textP.Groups[1].Value, "https://t.example.com/c/").Target);
    }

    [Fact]
    public void Create_keeps_liquid_inside_tables_and_urls_intact_when_rewriting()
    {
        const string Html = """
            <html><body><table>
            {% for p in products %}
            <tr><td><a href="{{ p.url }}">{{ p.name }}</a></td>{% if p.sale %}<td class="sale">sale</td>{% endif %}</tr>
            {% endfor %}
            </table>
            <a href="https://shop.example.com/?q={{ first_name | url_encode }}&amp;n={% if first_name %}1{% else %}0{% endif %}">search</a>
            </body></html>
            """;
        var (compiled, files) = Compile(Html, columns: ["email", "first_name", "products"]);
        using var _ = files;
        var products = new List<object?>
        {
            new Dictionary<string, object?> { ["name"] = "Mug", ["url"] = "https://shop.example.com/mug", ["sale"] = true },
            new Dictionary<string, object?> { ["name"] = "Rug", ["url"] = "mailto:rug@shop.example.com", ["sale"] = false },
        };
        using var message = compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "A B"), ("products", products)));
        var html = message.HtmlBody!;
        var rows = System.Text.RegularExpressions.Regex.Matches(html, "<tr><td><a href=\"([^\"]+)\">([^<]+)</a></td>(<td class=\"sale\">sale</td>)?</tr>");
        Assert.Equal(2, rows.Count);
        var mug = Verify(rows[0].Groups[1].Value, "https://t.example.com/c/");
        Assert.Equal("https://shop.example.com/mug", mug.Target);
        Assert.True(rows[0].Groups[3].Success);
        Assert.Equal("mailto:rug@shop.example.com", rows[1].Groups[1].Value);
        Assert.False(rows[1].Groups[3].Success);
        var search = System.Text.RegularExpressions.Regex.Match(html, "<a href=\"([^\"]+)\">search</a>");
        Assert.Equal("https://shop.example.com/?q=A+B&n=1", Verify(search.Groups[1].Value, "https://t.example.com/c/").Target);
    }

    [Fact]
    public void Create_without_tracking_leaves_links_and_adds_no_pixel()
    {
        var (compiled, files) = Compile("<html><body><a href=\"https://shop.example.com/\">x</a></body></html>", "", "s", "email", "first_name");
        using var _ = files;
        Assert.Equal(1, compiled.Links);

        using var files2 = new TestFiles();
        var path = files2.Campaign(html: "<html><body><a href=\"https://shop.example.com/\">x</a></body></html>");
        File.WriteAllText(path, File.ReadAllText(path).Replace("base_url: \"https://t.example.com\"", "base_url: \"https://t.example.com\", clicks: false, opens: false", StringComparison.Ordinal));
        var untracked = CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer);
        using var message = untracked.Create(TestFiles.Item(untracked, "r1", "a@example.com"));
        Assert.Contains("<a href=\"https://shop.example.com/\">x</a></body>", message.HtmlBody!, StringComparison.Ordinal);
        Assert.DoesNotContain("/o/", message.HtmlBody!, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_uses_the_text_template_when_given()
    {
        using var files = new TestFiles();
        files.Write("body.txt", "Plain {{ first_name }}");
        var path = files.Campaign(extra: "text: body.txt");
        var compiled = CampaignTemplates.Compile(CampaignLoader.Load(path), ["email", "first_name"], TestFiles.Signer);
        using var message = compiled.Create(TestFiles.Item(compiled, "r1", "a@example.com", ("first_name", "<Ann>")));
        Assert.Equal("Plain <Ann>", message.TextBody!.TrimEnd());
    }

    [Fact]
    public void Create_is_thread_safe()
    {
        var (compiled, files) = Compile("<p>{{ first_name }}</p><a href=\"https://x.example.com/{{ first_name }}\">l</a>");
        using var _ = files;
        Parallel.For(0, 200, i =>
        {
            using var message = compiled.Create(TestFiles.Item(compiled, $"r{i}", $"u{i}@example.com", ("first_name", $"N{i}")));
            Assert.Contains($"<p>N{i}</p>", message.HtmlBody!, StringComparison.Ordinal);
            var href = System.Text.RegularExpressions.Regex.Match(message.HtmlBody!, "href=\"([^\"]+)\"").Groups[1].Value;
            Assert.Equal($"https://x.example.com/N{i}", Verify(href, "https://t.example.com/c/").Target);
        });
    }

    [Fact]
    public void Sample_campaign_renders_about_50_kB_with_8_products_and_about_20_links()
    {
        using var files = new TestFiles();
        var path = SampleCampaign.Write(Path.Combine(files.Root, "sample"), 3);
        var campaign = CampaignLoader.Load(path);
        var compiled = CampaignTemplates.Compile(campaign, ["email", "first_name", "last_name", "city", "segment"], TestFiles.Signer);
        using var message = compiled.Create(TestFiles.Item(compiled, "r1", "ada@example.com", ("first_name", "Ada"), ("city", "Lyon"), ("segment", "garden")));
        using var stream = new MemoryStream();
        message.WriteTo(stream, TestContext.Current.CancellationToken);
        Assert.InRange(stream.Length, 40_000, 70_000);
        Assert.Equal(8, System.Text.RegularExpressions.Regex.Matches(message.HtmlBody!, "class=\"product-name\"").Count);
        var tracked = System.Text.RegularExpressions.Regex.Matches(message.HtmlBody!, "href=\"https?://127\\.0\\.0\\.1:8080/c/").Count;
        Assert.InRange(tracked, 18, 24);
    }
}
