using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Herald.Cli.Tests.Dkim;

/// <summary>
/// DKIM end to end: keys made by <c>herald dkim keygen</c>, a real <c>herald send</c> to a real <c>herald sink</c>,
/// and every captured message checked by two independent verifiers (dkimpy, mailauth) against the DNS records
/// keygen printed. Then messages changed after signing must fail, which proves the verifiers check.
/// </summary>
public sealed partial class DkimSendTests : IDisposable
{
    private const int Recipients = 1_100;
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "herald-dkim-tests", Guid.NewGuid().ToString("N")[..12]);

    public DkimSendTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Send_signs_every_message_with_rsa_and_ed25519_that_two_verifiers_accept_and_changes_break()
    {
        var folder = Path.Combine(_dir, "campaign");
        Directory.CreateDirectory(folder);
        var records = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["s2026._domainkey.shop.example.com"] = await KeygenAsync(folder, "s2026", "rsa-sha256", "rsa.pem"),
            ["s2026e._domainkey.shop.example.com"] = await KeygenAsync(folder, "s2026e", "ed25519-sha256", "ed.pem"),
        };
        var recordsFile = Path.Combine(_dir, "dns.json");
        File.WriteAllText(recordsFile, JsonSerializer.Serialize(records));

        var captured = Path.Combine(_dir, "captured");
        Directory.CreateDirectory(captured);
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--out", captured);
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = WriteCampaign(folder, port);
            var send = await HeraldProcess.RunAsync(Bound, "send", campaign, "--db", Path.Combine(_dir, "herald.db"));
            Assert.True(send.Exit == 0, send.Out + send.Error);
            Assert.Contains("dkim: signing as d=shop.example.com", send.Out, StringComparison.Ordinal);
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }

        var files = Directory.GetFiles(captured, "*.eml");
        Assert.Equal(Recipients, files.Length);
        AssertShapes(files);

        var expected = "s2026=pass,s2026e=pass";
        var dkimpy = await DkimVerifiers.DkimpyAsync(captured, recordsFile);
        var mailauth = await DkimVerifiers.MailauthAsync(captured, recordsFile);
        Assert.Equal(Recipients, dkimpy.Count);
        Assert.Equal(Recipients, mailauth.Count);
        Assert.All(dkimpy, pair => Assert.True(pair.Value == expected, $"dkimpy: {pair.Key}: {pair.Value}"));
        Assert.All(mailauth, pair => Assert.True(pair.Value == expected, $"mailauth: {pair.Key}: {pair.Value}"));

        // Changed after signing: each change must break both signatures in both verifiers.
        var tampered = Path.Combine(_dir, "tampered");
        Directory.CreateDirectory(tampered);
        var changes = Tamper(files.Order(StringComparer.Ordinal).Take(5).ToArray(), tampered);
        var dkimpyTampered = await DkimVerifiers.DkimpyAsync(tampered, recordsFile);
        var mailauthTampered = await DkimVerifiers.MailauthAsync(tampered, recordsFile);
        Assert.Equal(changes, dkimpyTampered.Count);
        Assert.Equal(changes, mailauthTampered.Count);
        Assert.All(dkimpyTampered, pair => Assert.DoesNotContain("=pass", pair.Value, StringComparison.Ordinal));
        Assert.All(mailauthTampered, pair => Assert.DoesNotContain("=pass", pair.Value, StringComparison.Ordinal));
    }

    /// <summary>Runs the real keygen and returns the TXT text of the record it printed (its 255-byte strings joined).</summary>
    private static async Task<string> KeygenAsync(string folder, string selector, string algorithm, string file)
    {
        var path = Path.Combine(folder, file);
        var run = await HeraldProcess.RunAsync("dkim", "keygen", "--domain", "shop.example.com", "--selector", selector, "--algorithm", algorithm, "--out", path);
        Assert.True(run.Exit == 0, run.Out + run.Error);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
        var line = run.Out.Split('\n').Single(l => l.StartsWith($"{selector}._domainkey.shop.example.com IN TXT ", StringComparison.Ordinal));
        var strings = QuotedString().Matches(line).Select(m => m.Groups[1].Value).ToArray();
        Assert.All(strings, s => Assert.True(s.Length <= 255, $"a TXT string of {s.Length} bytes"));
        return string.Concat(strings);
    }

    private static string WriteCampaign(string folder, int port)
    {
        var longValue = string.Join(' ', Enumerable.Range(0, 40).Select(i => string.Create(CultureInfo.InvariantCulture, $"segment-{i}")));
        File.WriteAllText(Path.Combine(folder, "campaign.yml"), $$$"""
            id: dkim-e2e
            from: "Boutique Élégance – Zoë <news@shop.example.com>"
            reply_to: "Service clientèle <help@shop.example.com>"
            subject: "{{ first_name }}, les soldes d'été sont là ✨ — jusqu'à -50 % sur une sélection très longue d'articles pour la maison et le jardin"
            html: body.html
            recipients: recipients.csv
            headers:
              X-Segment: "{{ segment }} {{ first_name }}"
              X-Long: "{{{longValue}}}"
            tracking: { base_url: "https://t.shop.example.com", clicks: true, opens: true }
            unsubscribe: { mailto: "unsubscribe@shop.example.com" }
            postal_address: "Boutique Élégance, 1 rue du Marché, Lyon"
            list_id: "Nouvelles de la Boutique <news.shop.example.com>"
            feedback_id: { stream: soldes, sender_id: boutique }
            relays:
              - url: smtp://127.0.0.1:{{{port}}}
                connections: 4
            dkim:
              domain: shop.example.com
              selector: s2026
              key: rsa.pem
              algorithm: both
              ed25519_selector: s2026e
              ed25519_key: ed.pem
            """);
        // Lines starting with a dot (one is a lone dot, the SMTP terminator if not stuffed), tabs, runs of spaces,
        // trailing white space and empty lines at the end: what relaxed canonicalization and dot-stuffing must get right.
        File.WriteAllText(Path.Combine(folder, "body.html"), "<html><body>\n<h1>Bonjour {{ first_name }} !</h1>\n"
            + ".leading dot line\n..two dots\n.\n"
            + "<p>\tTabbed   and    spaced\t\ttext  </p>   \n"
            + "<p>Prix : 19,99 € — « offre » {{ segment }}</p>\n"
            + "<p><a href=\"https://shop.example.com/soldes?c={{ recipient_id }}\">Voir les soldes</a></p>\n"
            + "<p><a href=\"{{ unsubscribe_url }}\">Se désabonner</a> · {{ postal_address }}</p>\n"
            + "</body></html>\n\n\n   \n");
        var names = new[] { "Zoë", "Ådne", "José", "Łukasz", "Müller", "Ana", "李小龙", "Ἀθηνᾶ", "Ömer", "Chloé" };
        var csv = new StringBuilder("email,first_name,segment\n");
        for (var i = 0; i < Recipients; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"user{i}@example.com,{names[i % names.Length]}{i},{(i % 3 == 0 ? "jardin" : "maison é")}\n");
        }

        File.WriteAllText(Path.Combine(folder, "recipients.csv"), csv.ToString());
        return Path.Combine(folder, "campaign.yml");
    }

    /// <summary>The captured messages have what the test claims to cover: folded long headers, encoded words, dot lines.</summary>
    private static void AssertShapes(string[] files)
    {
        var text = File.ReadAllText(files[0]);
        var headers = text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
        Assert.Equal(2, Regex.Count(headers, "^DKIM-Signature:", RegexOptions.Multiline));
        Assert.Contains("=?utf-8?", headers, StringComparison.OrdinalIgnoreCase);
        Assert.Matches(new Regex(@"^Subject:.*\r\n[ \t]", RegexOptions.Multiline), headers);
        Assert.Matches(new Regex(@"^X-Long:.*\r\n[ \t]", RegexOptions.Multiline), headers);
        Assert.Contains("\r\nList-Id: ", headers, StringComparison.Ordinal);
        Assert.Contains("\r\nFeedback-ID: dkim-e2e:soldes:herald:boutique\r\n", headers, StringComparison.Ordinal);
        Assert.Contains("\r\n.leading dot line", text, StringComparison.Ordinal);
        Assert.Contains("\r\n.\r\n", text, StringComparison.Ordinal);
    }

    /// <summary>Copies messages with one change each: body text, a signed header, a second From, a body line added.</summary>
    private static int Tamper(string[] sources, string into)
    {
        var changes = new Func<string, string>[]
        {
            m => ReplaceFirst(m, "Voir les soldes", "Voir les s0ldes"),
            m => ReplaceFirst(m, "\r\nSubject: ", "\r\nSubject: Re: "),
            m => "From: Someone Else <evil@attacker.example>\r\n" + m,
            m => m.TrimEnd() + "\r\nAn extra line.\r\n",
            m => ReplaceFirst(m, "\r\nTo: ", "\r\nTo: other@example.com, "),
        };
        for (var i = 0; i < changes.Length; i++)
        {
            var original = File.ReadAllText(sources[i]);
            var changed = changes[i](original);
            Assert.NotEqual(original, changed);
            File.WriteAllText(Path.Combine(into, $"changed-{i}.eml"), changed);
        }

        return changes.Length;
    }

    private static string ReplaceFirst(string text, string what, string with)
    {
        var at = text.IndexOf(what, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{what}' not in the message");
        return string.Concat(text.AsSpan(0, at), with, text.AsSpan(at + what.Length));
    }

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex QuotedString();
}
