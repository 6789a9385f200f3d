using System.Text;
using System.Text.Json;
using Herald.Core.Tests.Smtp;
using Microsoft.Data.Sqlite;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// The relay rules where an operator meets them: real <c>herald</c> processes against the scriptable SMTP server
/// (exit codes, messages, <c>status --json</c>, <c>retry --failed</c>, <c>--verbose</c>).
/// </summary>
public sealed class RelayCommandTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-relay-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Send_pauses_with_exit_4_when_the_relay_wants_authentication_fails_no_one_and_continues_once_fixed()
    {
        // The issue's report: this marked 50 of 50 recipients failed in 0.9 s and send exited 0.
        var fixedRelay = false;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnMail = _ => Volatile.Read(ref fixedRelay) ? null : SmtpAction.Reply(530, "5.7.0 Authentication required"),
        });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 50, server.Port, 4, "    name: smtp-1");

        var paused = await HeraldProcess.RunAsync(Bound, "send", campaign);

        Assert.True(paused.Exit == 4, paused.Out + paused.Error);
        Assert.Contains("paused: relay smtp-1: 530 5.7.0 Authentication required", paused.Error, StringComparison.Ordinal);
        Assert.Contains("run 'herald send' again to continue", paused.Error, StringComparison.Ordinal);
        Assert.All(ReadRows(HeraldProcess.DefaultStore), r => Assert.Equal((0, 0), (r.State, r.Attempts)));
        Assert.Empty(server.Messages);

        using (var status = JsonDocument.Parse((await HeraldProcess.RunAsync(Bound, "status", campaign, "--json")).Out))
        {
            var root = status.RootElement;
            Assert.Equal(("paused", "relay smtp-1: 530 5.7.0 Authentication required"), (root.GetProperty("state").GetString(), root.GetProperty("reason").GetString()));
            Assert.Equal((50, 0), (root.GetProperty("pending").GetInt32(), root.GetProperty("failed").GetInt32()));
            var relay = Assert.Single(root.GetProperty("relays").EnumerateArray());
            Assert.Equal("smtp-1", relay.GetProperty("name").GetString());
            Assert.Equal("out_of_rotation", relay.GetProperty("state").GetString());
            Assert.Equal("530 5.7.0 Authentication required", relay.GetProperty("last_reply").GetString());
            Assert.Equal(JsonValueKind.String, relay.GetProperty("since").ValueKind);
        }

        var text = await HeraldProcess.RunAsync(Bound, "status", campaign);
        Assert.Contains("paused", text.Out, StringComparison.Ordinal);
        Assert.Contains("530 5.7.0 Authentication required", text.Out, StringComparison.Ordinal);

        Volatile.Write(ref fixedRelay, true);
        var resumed = await HeraldProcess.RunAsync(Bound, "send", campaign);

        Assert.True(resumed.Exit == 0, resumed.Out + resumed.Error);
        Assert.Contains("continuing the campaign paused since", resumed.Out, StringComparison.Ordinal);
        Assert.Equal(50, server.Messages.Count);
        Assert.All(Enumerable.Range(0, 50), i => Assert.Equal(1, server.AcceptedFor($"user{i}@example.com")));
        using var after = JsonDocument.Parse((await HeraldProcess.RunAsync(Bound, "status", campaign, "--json")).Out);
        Assert.Equal("complete", after.RootElement.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, after.RootElement.GetProperty("reason").ValueKind);
        Assert.Equal("up", after.RootElement.GetProperty("relays")[0].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Send_never_sends_AUTH_in_clear_text_by_default_and_verbose_logs_the_conversation_without_secrets()
    {
        const string password = "correct-horse-battery-staple";
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Auth = true });
        var environment = new Dictionary<string, string> { ["RELAY_USER"] = "alice", ["RELAY_PASSWORD"] = password };
        var auth = "    name: smtp-1\n    auth: { username_env: RELAY_USER, password_env: RELAY_PASSWORD }";
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 3, server.Port, 1, auth);

        var refused = await HeraldProcess.RunInAsync(null, environment, Bound, "send", campaign);

        Assert.True(refused.Exit == 4, refused.Out + refused.Error);
        Assert.Contains("relay smtp-1: AUTH not sent: the connection is not encrypted", refused.Error, StringComparison.Ordinal);
        Assert.Empty(server.AuthAttempts);

        // The operator's explicit choice, and the conversation logged.
        File.WriteAllText(campaign, File.ReadAllText(campaign).Replace("    name: smtp-1", "    name: smtp-1\n    starttls: none", StringComparison.Ordinal));
        var sent = await HeraldProcess.RunInAsync(null, environment, Bound, "send", campaign, "--verbose");

        Assert.True(sent.Exit == 0, sent.Out + sent.Error);
        Assert.Equal(["alice:" + password], server.AuthAttempts.Distinct());
        Assert.Contains("[smtp-1#1] > AUTH PLAIN ***", sent.Error, StringComparison.Ordinal);
        Assert.Contains("[smtp-1#1] < 235 2.7.0 Authentication successful", sent.Error, StringComparison.Ordinal);
        Assert.Contains("[smtp-1#1] > MAIL FROM:<news@shop.example.com>", sent.Error, StringComparison.Ordinal);
        Assert.Contains("[smtp-1#1] > RCPT TO:<user2@example.com>", sent.Error, StringComparison.Ordinal);
        Assert.Contains("[smtp-1#1] < 250 2.0.0 Ok: queued as", sent.Error, StringComparison.Ordinal);
        Assert.Contains("bytes, not logged]", sent.Error, StringComparison.Ordinal);
        var everything = sent.Out + sent.Error;
        Assert.DoesNotContain(password, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0alice\0{password}")), everything, StringComparison.Ordinal);
        Assert.DoesNotContain("Spring sale", everything, StringComparison.Ordinal);
        Assert.DoesNotContain("Subject:", everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Progress_and_final_message_name_a_failed_TLS_handshake()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { StartTls = true });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 3, server.Port, 1,
            "    name: smtp-1\ndelivery: { unreachable_timeout: 3s, breaker_cooldown: 200ms, breaker_failures: 2 }");

        var run = await HeraldProcess.RunAsync(Bound, "send", campaign);

        Assert.True(run.Exit == 3, run.Out + run.Error);
        Assert.Contains("no relay could be reached: relay smtp-1: TLS handshake failed: ", run.Error, StringComparison.Ordinal);
        Assert.Contains("relays_down=1 (smtp-1: TLS handshake failed: ", run.Out, StringComparison.Ordinal);
        using var status = JsonDocument.Parse((await HeraldProcess.RunAsync(Bound, "status", campaign, "--json")).Out);
        var relay = status.RootElement.GetProperty("relays")[0];
        Assert.Equal("down", relay.GetProperty("state").GetString());
        Assert.StartsWith("TLS handshake failed: ", relay.GetProperty("last_error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_failed_with_a_code_sends_again_only_recipients_whose_last_reply_matches()
    {
        var accept = false;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c => Volatile.Read(ref accept) ? null : c.Recipient switch
            {
                // Soft bounces: a hard one (5.1.1) would suppress the address, and no retry sends to a suppressed address.
                "user1@example.com" or "user2@example.com" => SmtpAction.Reply(552, "5.2.2 mailbox full"),
                "user3@example.com" => SmtpAction.Reply(552, "5.2.3 message length exceeds administrative limit"),
                _ => null,
            },
        });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 5, server.Port, 1);
        var first = await HeraldProcess.RunAsync(Bound, "send", campaign);
        Assert.True(first.Exit == 0, first.Out + first.Error);
        Assert.Equal(3, ReadRows(HeraldProcess.DefaultStore).Count(r => r.State == 3));
        Volatile.Write(ref accept, true);

        var usage = await HeraldProcess.RunAsync(Bound, "retry", campaign, "--code", "550");
        var bad = await HeraldProcess.RunAsync(Bound, "retry", campaign, "--failed", "--code", "6xx");
        var byCode = await HeraldProcess.RunAsync(Bound, "retry", campaign, "--failed", "--code", "530,5.2.2");

        Assert.Equal(1, usage.Exit);
        Assert.Equal(1, bad.Exit);
        Assert.Contains("--code: '6xx' is neither", bad.Error, StringComparison.Ordinal);
        Assert.True(byCode.Exit == 0, byCode.Out + byCode.Error);
        Assert.Contains("2 failed recipient(s) whose last reply matches 530,5.2.2 will be sent again", byCode.Out, StringComparison.Ordinal);
        Assert.Equal((1, 1, 0), (server.AcceptedFor("user1@example.com"), server.AcceptedFor("user2@example.com"), server.AcceptedFor("user3@example.com")));
        Assert.Equal(3, ReadRows(HeraldProcess.DefaultStore).Single(r => r.Email == "user3@example.com").State);

        var all = await HeraldProcess.RunAsync(Bound, "retry", campaign, "--failed");

        Assert.True(all.Exit == 0, all.Out + all.Error);
        Assert.Equal(1, server.AcceptedFor("user3@example.com"));
        Assert.All(ReadRows(HeraldProcess.DefaultStore), r => Assert.Equal(2, r.State));
        Assert.Equal(5, server.Messages.Count);
    }

    [Theory]
    [InlineData("smtp://alice:s3cr3tPa55@relay.example.com:587")]
    [InlineData("smtp://relay.example.com:587?password=s3cr3tPa55")]
    public async Task A_secret_in_the_relay_url_is_refused_without_being_echoed(string url)
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 1, 2525, 1);
        File.WriteAllText(campaign, File.ReadAllText(campaign).Replace("smtp://127.0.0.1:2525", url, StringComparison.Ordinal));

        foreach (var command in new[] { "validate", "send" })
        {
            var run = await HeraldProcess.RunAsync(Bound, command, campaign);

            Assert.Equal(1, run.Exit);
            Assert.Contains("inline secrets are not allowed in the relay URL", run.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cr3tPa55", run.Out + run.Error, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// The issue's crash test through the CLI: a relay offering CHUNKING drops every first transfer while the content
    /// is in transit. With BDAT nobody is left in doubt; with DATA (chunking: false) those recipients are.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_relay_dropping_connections_mid_transfer_leaves_no_one_in_doubt_with_chunking(bool chunking)
    {
        const int recipients = 30;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true, OnDataBody = c => c.Attempt == 1 ? SmtpAction.Close : null });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, server.Port, 3,
            $"    chunking: {(chunking ? "true" : "false")}\nretry: {{ initial_backoff: 10ms, max_backoff: 50ms }}\ndelivery: {{ transient_streak: 1000 }}");

        var run = await HeraldProcess.RunAsync(Bound, "send", campaign);

        Assert.True(run.Exit == 0, run.Out + run.Error);
        using var status = JsonDocument.Parse((await HeraldProcess.RunAsync(Bound, "status", campaign, "--json")).Out);
        var inDoubt = status.RootElement.GetProperty("in_doubt").GetInt32();
        var sent = status.RootElement.GetProperty("sent").GetInt32();
        Assert.All(Enumerable.Range(0, recipients), i => Assert.InRange(server.AcceptedFor($"user{i}@example.com"), 0, 1));
        if (chunking)
        {
            Assert.Equal((recipients, 0), (sent, inDoubt));
            Assert.Contains(server.Commands, c => c.Line == "BDAT 0 LAST");
        }
        else
        {
            Assert.True(inDoubt > recipients / 2, $"DATA: {inDoubt} in doubt");
            Assert.DoesNotContain(server.Commands, c => c.Line.StartsWith("BDAT", StringComparison.Ordinal));
        }
    }

    private static List<(string Email, int State, int Attempts)> ReadRows(string db)
    {
        using var connection = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT email, state, attempts FROM recipients ORDER BY id";
        var rows = new List<(string, int, int)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2)));
        }

        return rows;
    }
}
