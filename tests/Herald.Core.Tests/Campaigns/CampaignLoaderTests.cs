using Herald.Campaigns;

namespace Herald.Core.Tests.Campaigns;

public class CampaignLoaderTests
{
    [Fact]
    public void Load_reads_a_full_campaign()
    {
        using var files = new TestFiles();
        files.Write("body.txt", "Hi");
        files.Write("products.jsonl", "{\"sku\":\"a\"}\n");
        var path = files.Campaign(extra: """
            reply_to: "help@shop.example.com"
            text: body.txt
            headers: { X-Topic: "spring {{ first_name }}" }
            unsubscribe: { mailto: "unsub@shop.example.com" }
            retry: { max_attempts: 3, initial_backoff: 100ms, max_backoff: 5m, give_up_after: 2h }
            delivery: { connect_timeout: 5s, command_timeout: 30s, final_reply_timeout: 10m, breaker_failures: 3, breaker_cooldown: 15s, unreachable_timeout: 1m }
            data:
              products: { file: products.jsonl, key: recipient_id, many: true, limit: 8, order_by: rank, required: true }
            """);
        var campaign = CampaignLoader.Load(path);
        Assert.Equal("test-campaign", campaign.Id);
        Assert.Equal("news@shop.example.com", campaign.From.Address);
        Assert.Equal("Shop", campaign.From.Name);
        Assert.Equal("help@shop.example.com", campaign.ReplyTo!.Address);
        Assert.Equal(Path.Combine(files.Root, "body.html"), campaign.HtmlPath);
        Assert.Equal(Path.Combine(files.Root, "body.txt"), campaign.TextPath);
        Assert.Equal("spring {{ first_name }}", campaign.Headers["X-Topic"]);
        Assert.Equal("https://t.example.com", campaign.Tracking.BaseUrl);
        Assert.Equal("unsub@shop.example.com", campaign.Unsubscribe.Mailto);
        Assert.Equal(new Uri("smtp://127.0.0.1:2525"), campaign.Relays[0].Url);
        Assert.Equal(3, campaign.Retry.MaxAttempts);
        Assert.Equal(TimeSpan.FromMilliseconds(100), campaign.Retry.InitialBackoff);
        Assert.Equal(TimeSpan.FromMinutes(5), campaign.Retry.MaxBackoff);
        Assert.Equal(TimeSpan.FromHours(2), campaign.Retry.GiveUpAfter);
        Assert.Equal(TimeSpan.FromSeconds(5), campaign.Delivery.ConnectTimeout);
        Assert.Equal(3, campaign.Delivery.BreakerFailures);
        Assert.Equal(TimeSpan.FromMinutes(1), campaign.Delivery.UnreachableTimeout);
        var products = campaign.Data["products"];
        Assert.True(products.Many && products.Required);
        Assert.Equal(8, products.Limit);
        Assert.Equal("rank", products.OrderBy);
        Assert.Equal(Path.Combine(files.Root, "products.jsonl"), products.File);
    }

    [Fact]
    public void Load_defaults_id_to_the_folder_name_and_applies_defaults()
    {
        using var files = new TestFiles();
        var path = files.Campaign();
        File.WriteAllText(path, File.ReadAllText(path).Replace("id: test-campaign\n", "", StringComparison.Ordinal));
        var campaign = CampaignLoader.Load(path);
        Assert.Equal(Path.GetFileName(files.Root), campaign.Id);
        Assert.Equal(10, campaign.Relays[0].Connections);
        Assert.Equal(StartTlsMode.Optional, campaign.Relays[0].StartTls);
        Assert.Equal(5, campaign.Retry.MaxAttempts);
        Assert.True(campaign.Tracking.Clicks && campaign.Tracking.Opens);
    }

    [Fact]
    public void Load_reports_unknown_keys_at_their_line_and_column_with_a_suggestion()
    {
        using var files = new TestFiles();
        var path = files.Campaign(extra: "subjct: typo\ntracking_x: 1");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        var problem = Assert.Single(ex.Problems, p => p.Message.Contains("'subjct'", StringComparison.Ordinal));
        Assert.Equal(10, problem.Line);
        Assert.Equal(1, problem.Column);
        Assert.Contains("did you mean 'subject'?", problem.Message, StringComparison.Ordinal);
        Assert.Contains(ex.Problems, p => p.Message.Contains("'tracking_x'", StringComparison.Ordinal) && p.Line == 11);
        Assert.EndsWith("campaign.yml", problem.File, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_reports_unknown_nested_keys()
    {
        using var files = new TestFiles();
        var path = files.Campaign(extra: "retry: { max_atempts: 3 }\ndelivery: { timeout: 3s }");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains(ex.Problems, p => p.Message.Contains("'max_atempts'", StringComparison.Ordinal) && p.Line == 10 && p.Column == 10);
        Assert.Contains(ex.Problems, p => p.Message.Contains("'timeout'", StringComparison.Ordinal) && p.Line == 11);
    }

    [Fact]
    public void Load_collects_every_problem_at_once()
    {
        using var files = new TestFiles();
        var path = files.Write("campaign.yml", """
            from: "not an address"
            subject: Hi
            html: missing.html
            recipients: people.csv
            tracking: { base_url: "ftp://x" }
            postal_address: "1 Market St"
            relays:
              - url: http://relay:25
                connections: 0
                starttls: maybe
            retry: { initial_backoff: 10 }
            """);
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        var messages = string.Join("\n", ex.Problems);
        Assert.Contains("campaign.yml:1:7: from: 'not an address' is not an address", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:3:7: html: file not found: missing.html", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:4:13: recipients: file not found: people.csv", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:5:23: tracking.base_url:", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:8:10: url: 'http://relay:25' is not an smtp:// or smtps:// URL", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:9:18: connections: expected a whole number from 1 to 1000", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:10:15: starttls: 'maybe' is not one of optional, required, none", messages, StringComparison.Ordinal);
        Assert.Contains("campaign.yml:11:27: retry.initial_backoff: '10' is not a duration", messages, StringComparison.Ordinal);
        Assert.Equal(8, ex.Problems.Count);
    }

    [Fact]
    public void Load_reports_missing_required_keys()
    {
        using var files = new TestFiles();
        var path = files.Write("campaign.yml", "id: x\n");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        foreach (var key in new[] { "from", "subject", "html", "recipients", "tracking", "postal_address", "relays" })
        {
            Assert.Contains(ex.Problems, p => p.Message.StartsWith($"missing key '{key}'", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("auth: { username_env: SMTP_USER, password: hunter2 }", "inline secrets are not allowed ('password')")]
    [InlineData("password: hunter2", "inline secrets are not allowed ('password')")]
    [InlineData("auth: { username_env: SMTP_USER, password_env: \"hunter 2!\" }", "is not an environment variable name")]
    [InlineData("auth: { username_env: SMTP_USER }", "give both username_env and password_env")]
    public void Load_rejects_inline_secrets_and_bad_auth(string relayLine, string expected)
    {
        using var files = new TestFiles();
        var path = files.Campaign();
        File.WriteAllText(path, File.ReadAllText(path).Replace("  - url: smtp://127.0.0.1:2525", $"  - url: smtp://127.0.0.1:2525\n    {relayLine}", StringComparison.Ordinal));
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains(ex.Problems, p => p.Message.Contains(expected, StringComparison.Ordinal) && p.Line == 10);
        Assert.DoesNotContain("hunter2", ex.Message.Replace("('password')", "", StringComparison.Ordinal).Replace("password: hunter2", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("smtps://user:s3cr3tPa55@relay.example.com")]
    [InlineData("smtp://relay.example.com:587?password=s3cr3tPa55")]
    [InlineData("smtp://relay.example.com:587/?user=me&pass=s3cr3tPa55")]
    [InlineData("smtpx://me:s3cr3tPa55@relay.example.com")]
    public void Load_rejects_a_secret_in_the_relay_url_without_echoing_it(string url)
    {
        using var files = new TestFiles();
        var path = files.Campaign();
        File.WriteAllText(path, File.ReadAllText(path).Replace("smtp://127.0.0.1:2525", url, StringComparison.Ordinal));
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        var problem = Assert.Single(ex.Problems);
        Assert.StartsWith("url: ", problem.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3tPa55", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3tPa55", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_reads_relay_names_and_chunking_and_refuses_two_relays_with_one_name()
    {
        using var files = new TestFiles();
        var path = files.Campaign();
        var text = File.ReadAllText(path);
        File.WriteAllText(path, text.Replace("  - url: smtp://127.0.0.1:2525", "  - url: smtp://127.0.0.1:2525\n    name: smtp-1\n    chunking: false\n  - url: smtp://127.0.0.1:2526", StringComparison.Ordinal)
            + "delivery: { policy_streak: 3, transient_streak: 7 }\n");

        var campaign = CampaignLoader.Load(path);

        Assert.Equal([("smtp-1", false), ("127.0.0.1:2526", true)], campaign.Relays.Select(r => (r.Name, r.Chunking)));
        Assert.Equal((3, 7), (campaign.Delivery.PolicyStreak, campaign.Delivery.TransientStreak));
        File.WriteAllText(path, text.Replace("  - url: smtp://127.0.0.1:2525", "  - url: smtp://127.0.0.1:2525\n    name: smtp-1\n  - url: smtp://127.0.0.1:2526\n    name: SMTP-1", StringComparison.Ordinal));
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains("two relays are named 'SMTP-1'", Assert.Single(ex.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_reads_relay_options_and_default_ports()
    {
        using var files = new TestFiles();
        var path = files.Campaign();
        File.WriteAllText(path, File.ReadAllText(path).Replace("  - url: smtp://127.0.0.1:2525", """
              - url: smtps://relay.example.com
                connections: 20
                rate_limit: 50.5
                starttls: required
                auth: { username_env: SMTP_USER, password_env: SMTP_PASS }
              - url: smtp://relay2.example.com
                starttls: none
            """, StringComparison.Ordinal));
        var campaign = CampaignLoader.Load(path);
        Assert.Equal(465, campaign.Relays[0].Url.Port);
        Assert.Equal("smtps", campaign.Relays[0].Url.Scheme);
        Assert.Equal(20, campaign.Relays[0].Connections);
        Assert.Equal(50.5, campaign.Relays[0].RateLimit);
        Assert.Equal(StartTlsMode.Required, campaign.Relays[0].StartTls);
        Assert.Equal("SMTP_USER", campaign.Relays[0].UsernameEnv);
        Assert.Equal("SMTP_PASS", campaign.Relays[0].PasswordEnv);
        Assert.Equal(25, campaign.Relays[1].Url.Port);
        Assert.Equal(StartTlsMode.None, campaign.Relays[1].StartTls);
    }

    [Fact]
    public void Load_validates_data_sets()
    {
        using var files = new TestFiles();
        files.Write("products.csv", "recipient_id,sku\n1,a\n");
        var path = files.Campaign(extra: """
            data:
              products: { file: products.csv }
              email: { file: products.csv, key: recipient_id }
              extra: { file: nope.csv, key: id, limit: 3, colour: red }
              "bad name": { file: products.csv, key: id }
            """);
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        var messages = string.Join("\n", ex.Problems);
        Assert.Contains("data.products: 'key' is required", messages, StringComparison.Ordinal);
        Assert.Contains("'email' is a built-in template variable", messages, StringComparison.Ordinal);
        Assert.Contains("data.extra.file: file not found: nope.csv", messages, StringComparison.Ordinal);
        Assert.Contains("unknown key 'colour'", messages, StringComparison.Ordinal);
        Assert.Contains("data.extra.limit: only meaningful with many: true", messages, StringComparison.Ordinal);
        Assert.Contains("'bad name' is not a valid data set name", messages, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_reports_yaml_syntax_errors_with_location()
    {
        using var files = new TestFiles();
        var path = files.Write("campaign.yml", "from: \"x\nsubject: [unclosed\n");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        var problem = Assert.Single(ex.Problems);
        Assert.StartsWith("YAML syntax error", problem.Message, StringComparison.Ordinal);
        Assert.True(problem.Line >= 1);
    }

    [Fact]
    public void Load_reports_duplicate_keys()
    {
        using var files = new TestFiles();
        var path = files.Write("campaign.yml", "subject: a\nsubject: b\n");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains(ex.Problems, p => p.Line == 2);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    public void Load_rejects_an_empty_file(string content)
    {
        using var files = new TestFiles();
        var path = files.Write("campaign.yml", content);
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains("empty", Assert.Single(ex.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_rejects_a_missing_file_and_non_utf8()
    {
        using var files = new TestFiles();
        var missing = Assert.Throws<CampaignException>(() => CampaignLoader.Load(Path.Combine(files.Root, "nope.yml")));
        Assert.Equal("file not found", Assert.Single(missing.Problems).Message);
        var path = files.WriteBytes("campaign.yml", [0x69, 0x64, 0x3A, 0x20, 0xFF, 0xFE, 0x0A]);
        var bad = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains("UTF-8", Assert.Single(bad.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_rejects_reserved_and_multiline_headers()
    {
        using var files = new TestFiles();
        var path = files.Campaign(extra: "headers: { Subject: x, \"X-A\": \"a\\nb\" }");
        var ex = Assert.Throws<CampaignException>(() => CampaignLoader.Load(path));
        Assert.Contains(ex.Problems, p => p.Message.Contains("Subject is set by Herald", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.Message.Contains("headers.X-A: must be one line", StringComparison.Ordinal));
    }
}
