using Herald.Postgres;
using Herald.Cli.Tests.Postgres;
using Npgsql;

namespace Herald.Cli.Tests.Bounces;

/// <summary>Bounces on a PostgreSQL store through the real CLI (HERALD_TEST_PG, PGPASSWORD; .ci/run starts one).</summary>
public sealed class PostgresBounceCliTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-pg-bounces-").FullName;
    private SharedTestDatabase _db = null!;

    private string Db => _db.Address;

    private PostgresAddress Server => PostgresAddress.Parse(_db.Address);

    public async ValueTask InitializeAsync()
    {
        _db = await SharedTestDatabase.CreateAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _db.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Synchronous_and_received_bounces_are_recorded_and_suppressed_on_postgresql()
    {
        await using var relay = RecordingRelay.Start(to => to == "user2@example.com" ? "5.1.1 <user2@example.com>: Recipient address rejected: User unknown" : null);
        var file = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 5, relay.Port, 2, $"bounces: {{ domain: {SentCampaign.Domain} }}");

        var send = await HeraldProcess.RunAsync("send", file, "--db", Db);

        Assert.True(send.Exit == 0, send.Out + send.Error);
        Assert.Contains("synchronous bounces: 1 hard, 0 soft; 1 address(es) newly suppressed", send.Out, StringComparison.Ordinal);
        long row;
        await using (var ledger = new PostgresDeliveryStore(PostgresConnections.Open(Server), ownsConnections: true))
        {
            row = -1;
            await foreach (var record in ledger.ReadRecipientsAsync(SentCampaign.CampaignId, TestContext.Current.CancellationToken))
            {
                if (record.Email == "user4@example.com")
                {
                    row = record.Id;
                }
            }
        }

        var returnPath = SentCampaign.Signer.CreateReturnPath(SentCampaign.CampaignId, row, SentCampaign.Domain);
        Assert.Equal(returnPath, relay.Senders["user4@example.com"]);
        using var listen = await ListenProcess.StartAsync("--db", Db, "--quarantine", Path.Combine(_dir, "q"));
        var dsn = $"""
            From: MAILER-DAEMON@mail.example.org
            To: {returnPath}
            Subject: Undelivered Mail Returned to Sender
            Message-ID: <pg-bounce-1@mail.example.org>
            MIME-Version: 1.0
            Content-Type: multipart/report; report-type=delivery-status; boundary="b"

            --b
            Content-Type: message/delivery-status

            Reporting-MTA: dns; mail.example.org

            Final-Recipient: rfc822; user4@example.com
            Action: failed
            Status: 5.2.1
            Diagnostic-Code: smtp; 550 5.2.1 The email account that you tried to reach is disabled.

            --b--
            """.ReplaceLineEndings("\r\n");

        Assert.StartsWith("2.0.0 Ok: recorded", await BouncesListenTests.SendAsync(listen.Port, dsn, null, returnPath), StringComparison.Ordinal);

        var list = await HeraldProcess.RunAsync("suppress", "list", "--db", Db);
        Assert.Contains("user2@example.com,bounced,crash-test,", list.Out, StringComparison.Ordinal);
        Assert.Contains("user4@example.com,bounced,crash-test,", list.Out, StringComparison.Ordinal);
        var (_, output, _) = await listen.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Contains($"accepting mail for: {SentCampaign.Domain}", output, StringComparison.Ordinal);
    }
}
