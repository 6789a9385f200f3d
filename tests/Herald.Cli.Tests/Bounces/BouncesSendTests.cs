namespace Herald.Cli.Tests.Bounces;

/// <summary>What <c>herald send</c> does about bounces: the return path on the wire, synchronous bounces, suppressions honoured mid-run.</summary>
public sealed class BouncesSendTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-bounces-send-").FullName;

    private string Db => Path.Combine(_dir, "herald.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Each_mail_from_is_a_signed_return_path_and_a_550_5_1_1_at_rcpt_is_a_hard_bounce_that_suppresses_for_every_later_campaign()
    {
        await using var relay = RecordingRelay.Start(to => to is "user3@example.com" or "user6@example.com" ? "5.1.1 <" + to + ">: Recipient address rejected: User unknown" : null);
        var file = HeraldProcess.WriteCampaign(Path.Combine(_dir, "spring"), 8, relay.Port, 2, $"bounces: {{ domain: {SentCampaign.Domain} }}");

        var send = await HeraldProcess.RunAsync("send", file, "--db", Db);

        Assert.True(send.Exit == 0, send.Out + send.Error);
        Assert.Contains($"bounces: each message's MAIL FROM is b-<token>@{SentCampaign.Domain}", send.Out, StringComparison.Ordinal);
        Assert.Contains("synchronous bounces: 2 hard, 0 soft; 2 address(es) newly suppressed", send.Out, StringComparison.Ordinal);
        Assert.Equal(6, relay.Accepted);
        var rows = await RowsAsync("crash-test");
        foreach (var (recipient, sender) in relay.Senders)
        {
            var local = sender[..sender.IndexOf('@', StringComparison.Ordinal)];
            Assert.True(local.Length <= 64);
            Assert.True(SentCampaign.Signer.TryVerifyReturnPath(sender, out var token), sender);
            Assert.Equal(recipient, rows[token.Row]);
        }

        var list = await HeraldProcess.RunAsync("suppress", "list", "--db", Db);
        Assert.Contains("user3@example.com,bounced,crash-test,", list.Out, StringComparison.Ordinal);
        Assert.Contains("user6@example.com,bounced,crash-test,", list.Out, StringComparison.Ordinal);

        // A later campaign in a sibling folder, same store: the bounced addresses are skipped, never sent.
        await using var second = RecordingRelay.Start();
        var later = HeraldProcess.WriteCampaign(Path.Combine(_dir, "autumn"), 8, second.Port, 2);
        File.WriteAllText(later, File.ReadAllText(later).Replace("id: crash-test", "id: autumn", StringComparison.Ordinal));
        var again = await HeraldProcess.RunAsync("send", later, "--db", Db);
        Assert.True(again.Exit == 0, again.Out + again.Error);
        Assert.Equal(6, second.Accepted);
        Assert.DoesNotContain("user3@example.com", second.Senders.Keys);
        Assert.DoesNotContain("user6@example.com", second.Senders.Keys);
        Assert.All(second.Senders.Values, s => Assert.Equal("news@shop.example.com", s));
    }

    [Fact]
    public async Task A_bounce_imported_while_a_campaign_runs_stops_the_rest_of_it_from_mailing_that_address()
    {
        // Campaign one reached user150 and bounced; campaign two (same list) is running when the bounce is imported.
        await using var first = RecordingRelay.Start();
        var one = HeraldProcess.WriteCampaign(Path.Combine(_dir, "one"), 200, first.Port, 2, $"bounces: {{ domain: {SentCampaign.Domain} }}");
        File.WriteAllText(one, File.ReadAllText(one).Replace("id: crash-test", "id: one", StringComparison.Ordinal));
        Assert.Equal(0, (await HeraldProcess.RunAsync("send", one, "--db", Db)).Exit);
        var rows = await RowsAsync("one");
        var row = rows.Single(r => r.Value == "user150@example.com").Key;
        var bounce = Path.Combine(_dir, "bounce.eml");
        await File.WriteAllTextAsync(bounce, $"""
            From: MAILER-DAEMON@mail.example.org
            To: {SentCampaign.Signer.CreateReturnPath("one", row, SentCampaign.Domain)}
            Subject: Undelivered Mail Returned to Sender
            Message-ID: <mid-run-bounce@mail.example.org>
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status; boundary="b"

            --b
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mail.example.org

            Final-Recipient: rfc822; user150@example.com
            Action: failed
            Status: 5.1.1

            --b--
            """.ReplaceLineEndings("\r\n"), TestContext.Current.CancellationToken);

        // The relay holds its reply to the 5th message until the bounce is in: the second campaign is mid-run, deterministically.
        await using var slow = RecordingRelay.Start(holdAt: 5);
        var two = HeraldProcess.WriteCampaign(Path.Combine(_dir, "two"), 200, slow.Port, 1);
        File.WriteAllText(two, File.ReadAllText(two).Replace("id: crash-test", "id: two", StringComparison.Ordinal));
        using var sending = HeraldProcess.Start(null, "send", two, "--db", Db);
        var output = sending.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            await slow.Holding.Task.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            var import = await HeraldProcess.RunAsync("bounces", "import", bounce, "--db", Db, "--quarantine", Path.Combine(_dir, "q"));
            Assert.Contains("1 hard bounce(s)", import.Out, StringComparison.Ordinal);
            slow.Release.TrySetResult();

            await sending.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken);
        }
        finally
        {
            HeraldProcess.KillQuietly(sending);
        }

        Assert.True(sending.ExitCode == 0, await output);
        Assert.Equal(199, slow.Accepted);
        Assert.DoesNotContain("user150@example.com", slow.Senders.Keys);
        Assert.Contains("skipped=1", await output, StringComparison.Ordinal);
    }

    private async Task<Dictionary<long, string>> RowsAsync(string campaign)
    {
        var rows = new Dictionary<long, string>();
        await using (var store = await Herald.Sqlite.SqliteDeliveryStore.OpenAsync(Db, TestContext.Current.CancellationToken))
        {
            await foreach (var row in store.ReadRecipientsAsync(campaign, TestContext.Current.CancellationToken))
            {
                rows[row.Id] = row.Email;
            }
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return rows;
    }
}
