using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using MailKit.Net.Smtp;
using Microsoft.Data.Sqlite;
using MimeKit;

namespace Herald.Cli.Tests.Bounces;

/// <summary><c>herald bounces listen</c> as a real process, fed by a real SMTP client over a real socket.</summary>
public sealed class BouncesListenTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dsn_to_a_return_path_is_recorded_before_its_250_and_the_receiver_stops_on_SIGTERM_within_2_seconds()
    {
        using var campaign = await SentCampaign.CreateAsync(5);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine);

        var reply = await SendAsync(listen.Port, campaign.Corpus("postfix-user-unknown.eml", 1), from: null, campaign.ReturnPath(1));

        Assert.StartsWith("2.0.0 Ok: recorded", reply, StringComparison.Ordinal);
        // The 250 came after the store's commit: another process sees the suppression at once.
        Assert.Contains($"{campaign.Email(1)},bounced,{SentCampaign.CampaignId},", await campaign.SuppressionsAsync(), StringComparison.Ordinal);
        var (exit, output, took) = await listen.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, exit);
        Assert.True(took < TimeSpan.FromSeconds(2), $"stopped in {took.TotalMilliseconds:F0} ms");
        Assert.StartsWith("store: ", output, StringComparison.Ordinal);
        Assert.Contains($"accepting mail for: {SentCampaign.Domain}", output, StringComparison.Ordinal);
        Assert.Contains("stopped: received=1 hard=1 soft=0 complaints=0", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mail_for_any_other_domain_is_refused_at_rcpt_so_it_is_never_an_open_relay()
    {
        using var campaign = await SentCampaign.CreateAsync(2);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine);
        var message = campaign.Corpus("postfix-user-unknown.eml", 0);

        foreach (var outsider in new[] { "someone@gmail.com", "news@shop.example.com", $"b-x@{SentCampaign.Domain}.evil.example", "victim@example.org" })
        {
            var error = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(listen.Port, message, "spammer@evil.example", outsider));
            Assert.Equal((SmtpErrorCode.RecipientNotAccepted, SmtpStatusCode.MailboxUnavailable), (error.ErrorCode, error.StatusCode));
            Assert.Contains("5.7.1 Relaying denied", error.Message, StringComparison.Ordinal);
        }

        // Mixed recipients: only the bounce domain's is taken.
        var raw = await RawSmtpAsync(listen.Port, "EHLO test", "MAIL FROM:<>", "RCPT TO:<victim@example.org>", $"RCPT TO:<postmaster@{SentCampaign.Domain.ToUpperInvariant()}>", "QUIT");
        Assert.Contains("550 5.7.1 Relaying denied", raw, StringComparison.Ordinal);
        Assert.Contains("250 Ok", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("example.org", await campaign.SuppressionsAsync(), StringComparison.Ordinal);
        var (_, output, _) = await listen.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("refused_rcpt=5", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_complaint_to_a_feedback_address_of_an_extra_domain_suppresses_as_complained()
    {
        using var campaign = await SentCampaign.CreateAsync(3);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine, "--domain", "fbl.shop.example.com");

        var reply = await SendAsync(listen.Port, campaign.Corpus("yahoo-arf-complaint.eml", 2), "feedback@arf.mail.yahoo.com", "fbl@fbl.shop.example.com");

        Assert.StartsWith("2.0.0 Ok: recorded", reply, StringComparison.Ordinal);
        Assert.Contains($"{campaign.Email(2)},complained,", await campaign.SuppressionsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mail_that_is_not_understood_is_kept_in_quarantine_and_counted_never_dropped()
    {
        using var campaign = await SentCampaign.CreateAsync(2);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine);

        var reply = await SendAsync(listen.Port, campaign.Corpus("human-reply.eml", 0), campaign.Email(0), campaign.ReturnPath(0));

        Assert.StartsWith("2.0.0 Ok: kept for review", reply, StringComparison.Ordinal);
        var kept = Assert.Single(Directory.GetFiles(campaign.Quarantine, "*.eml"));
        Assert.Contains("Do you ship to Canada?", await File.ReadAllTextAsync(kept, Ct), StringComparison.Ordinal);
        Assert.Contains("neither a bounce", await File.ReadAllTextAsync(kept + ".reason", Ct), StringComparison.Ordinal);
        var (_, output, _) = await listen.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Contains($"quarantine: {campaign.Quarantine}", output, StringComparison.Ordinal);
        Assert.Contains($"quarantined {kept}: neither a bounce", output, StringComparison.Ordinal);
        Assert.Contains("quarantined=1", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task While_the_store_is_locked_a_bounce_gets_451_and_the_retry_is_recorded_once()
    {
        using var campaign = await SentCampaign.CreateAsync(3);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine);
        var message = campaign.Corpus("gmail-account-does-not-exist.eml", 2);

        await using (var locker = new SqliteConnection($"Data Source={campaign.Db};Pooling=false"))
        {
            await locker.OpenAsync(Ct);
            await using (var begin = locker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE;";
                await begin.ExecuteNonQueryAsync(Ct);
            }

            var error = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(listen.Port, message, null, campaign.ReturnPath(2)));
            Assert.Equal(451, (int)error.StatusCode);
        }

        Assert.StartsWith("2.0.0 Ok: recorded", await SendAsync(listen.Port, message, null, campaign.ReturnPath(2)), StringComparison.Ordinal);
        Assert.StartsWith("2.0.0 Ok: recorded", await SendAsync(listen.Port, message, null, campaign.ReturnPath(2)), StringComparison.Ordinal);
        Assert.Equal(1L, await CountEventsAsync(campaign));
        Assert.Empty(Directory.Exists(campaign.Quarantine) ? Directory.GetFiles(campaign.Quarantine) : []);
    }

    [Fact]
    public async Task A_bounce_answered_250_survives_a_kill_9_right_after()
    {
        using var campaign = await SentCampaign.CreateAsync(3);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine);

        await SendAsync(listen.Port, campaign.Corpus("microsoft365-recipient-not-found.eml", 0), null, campaign.ReturnPath(0));
        listen.Process.Kill();
        await listen.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(1L, await CountEventsAsync(campaign));
        Assert.Contains($"{campaign.Email(0)},bounced,", await campaign.SuppressionsAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_refused()
    {
        using var campaign = await SentCampaign.CreateAsync(1);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine, "--max-message-size", "64KB");
        var big = campaign.Corpus("human-reply.eml", 0) + new string('x', 100_000);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => SendAsync(listen.Port, big, null, campaign.ReturnPath(0)));

        Assert.Contains("552", error.Message + (error as SmtpCommandException)?.StatusCode.ToString("D"), StringComparison.Ordinal);
        Assert.False(Directory.Exists(campaign.Quarantine) && Directory.GetFiles(campaign.Quarantine).Length > 0);
    }

    [Fact]
    public async Task Sessions_past_the_connection_bound_wait_until_one_closes()
    {
        using var campaign = await SentCampaign.CreateAsync(1);
        using var listen = await ListenProcess.StartAsync("--db", campaign.Db, "--quarantine", campaign.Quarantine, "--max-connections", "2");
        using var first = await GreetedAsync(listen.Port);
        using var second = await GreetedAsync(listen.Port);

        using var third = new TcpClient();
        await third.ConnectAsync("127.0.0.1", listen.Port, Ct);
        var greeting = ReadLineAsync(third.GetStream());
        // Bounded wait for something that must not happen while two sessions are open.
        Assert.NotSame(greeting, await Task.WhenAny(greeting, Task.Delay(TimeSpan.FromSeconds(1), Ct)));

        first.Close();
        Assert.StartsWith("220 ", await greeting.WaitAsync(TimeSpan.FromSeconds(30), Ct), StringComparison.Ordinal);
    }

    private static async Task<TcpClient> GreetedAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, Ct);
        Assert.StartsWith("220 ", await ReadLineAsync(client.GetStream()).WaitAsync(TimeSpan.FromSeconds(30), Ct), StringComparison.Ordinal);
        return client;
    }

    private static async Task<string> ReadLineAsync(NetworkStream stream)
    {
        var line = new StringBuilder();
        var buffer = new byte[1];
        while (await stream.ReadAsync(buffer, Ct) == 1 && buffer[0] != '\n')
        {
            line.Append((char)buffer[0]);
        }

        return line.ToString();
    }

    /// <summary>Sends with MailKit (the reference client); <paramref name="from"/> null is the null sender of a bounce. Returns the reply text to the final dot.</summary>
    internal static async Task<string> SendAsync(int port, string raw, string? from, params string[] to)
    {
        using var message = MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(raw)));
        using var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None, Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // An empty address is MailKit's null sender (MAIL FROM:<>), which bounces come from.
        var sender = from is null ? new MailboxAddress(string.Empty, string.Empty) : MailboxAddress.Parse(from);
        var reply = await client.SendAsync(message, sender, to.Select(MailboxAddress.Parse), Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await client.DisconnectAsync(true, Ct);
        return reply;
    }

    /// <summary>A plain conversation, one command per line, returning everything the server said.</summary>
    internal static async Task<string> RawSmtpAsync(int port, params string[] commands)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, Ct);
        var stream = client.GetStream();
        var transcript = new StringBuilder(await ReadReplyAsync(stream));
        foreach (var command in commands)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), Ct);
            transcript.Append(await ReadReplyAsync(stream));
        }

        return transcript.ToString();
    }

    private static async Task<string> ReadReplyAsync(NetworkStream stream)
    {
        var reply = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(stream).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            reply.Append(line).Append('\n');
            if (line.Length < 4 || line[3] != '-')
            {
                return reply.ToString();
            }
        }
    }

    private static async Task<long> CountEventsAsync(SentCampaign campaign)
    {
        await using var connection = new SqliteConnection($"Data Source={campaign.Db};Pooling=false");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM bounce_events;";
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
