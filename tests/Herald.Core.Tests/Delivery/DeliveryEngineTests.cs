using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Core.Tests.Delivery;

/// <summary>One test per row of the classification in the delivery state machine, against a misbehaving server.</summary>
public sealed class DeliveryEngineTests
{
    private static readonly string Alice = EngineHarness.Address(0);

    [Fact]
    public async Task Send_marks_sent_on_2xx_after_final_dot_and_keeps_the_reply_text()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = _ => SmtpAction.Reply(250, "2.0.0 Ok: queued as 4XyZ12"),
        });
        await using var harness = await EngineHarness.CreateAsync(3);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.Equal(3, result.Counts.Sent);
        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Sent, 1, 250), (record.State, record.Attempts, record.SmtpCode));
        Assert.Contains("queued as 4XyZ12", record.SmtpText, StringComparison.Ordinal);
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_reports_unreachable_and_marks_nothing_when_the_relay_refuses_connections()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Refuse = true });
        await using var harness = await EngineHarness.CreateAsync(2);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.UnreachableTimeout = TimeSpan.FromMilliseconds(600), server.Port));

        Assert.Equal(DeliveryStop.Unreachable, result.Stop);
        Assert.Equal(2, result.Counts.Pending);
        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Pending, 0), (record.State, record.Attempts));
        Assert.Equal(0, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_retries_after_a_421_greeting_without_counting_an_attempt()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnConnect = c => c.Connection <= 2 ? SmtpAction.Reply(421, "4.3.2 busy") : null,
        });
        await using var harness = await EngineHarness.CreateAsync(1);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Sent, 1), (record.State, record.Attempts));
        Assert.Equal(1, server.FinalDotsFor(Alice));
        Assert.True(server.Connections >= 3);
    }

    [Theory]
    [InlineData("mail")]
    [InlineData("rcpt")]
    [InlineData("data")]
    public async Task Send_retries_a_4xx_before_the_data_and_delivers_once(string stage)
    {
        var script = FailFirstAttemptAt(stage, SmtpAction.Reply(451, "4.3.0 try again later"));
        await using var server = ScriptableSmtpServer.Start(script);
        await using var harness = await EngineHarness.CreateAsync(1);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        var record = await harness.RecordAsync(0);
        // The first temporary refusal of a run is not counted (it may be the start of a storm, see the relay guards).
        Assert.Equal((DeliveryState.Sent, 1), (record.State, record.Attempts));
        Assert.Equal(1, server.FinalDotsFor(Alice));
        Assert.Equal(2, server.Commands.Count(c => c.Line.StartsWith("MAIL", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("rcpt", 550)]
    [InlineData("data", 554)]
    public async Task Send_fails_permanently_on_a_5xx_before_the_data(string stage, int code)
    {
        var script = FailFirstAttemptAt(stage, SmtpAction.Reply(code, "5.1.1 no such user"), always: true);
        await using var server = ScriptableSmtpServer.Start(script);
        await using var harness = await EngineHarness.CreateAsync(1);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Failed, 1, code), (record.State, record.Attempts, record.SmtpCode));
        Assert.Contains("no such user", record.SmtpText, StringComparison.Ordinal);
        Assert.Equal(0, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_retries_a_4xx_after_the_final_dot()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = c => c.Attempt <= 2 ? SmtpAction.Reply(452, "4.2.2 mailbox full, try later") : null,
        });
        await using var harness = await EngineHarness.CreateAsync(1);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        var record = await harness.RecordAsync(0);
        // Three attempts; the first temporary refusal of the run is free, the second counts.
        Assert.Equal((DeliveryState.Sent, 2), (record.State, record.Attempts));
        Assert.Equal(3, server.FinalDotsFor(Alice));
        Assert.Equal(1, server.AcceptedFor(Alice));
    }

    [Fact]
    public async Task Send_fails_permanently_on_a_5xx_after_the_final_dot()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = _ => SmtpAction.Reply(552, "5.2.2 mailbox full"),
        });
        await using var harness = await EngineHarness.CreateAsync(1);

        await harness.SendAsync(EngineHarness.Campaign(server.Port));

        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Failed, 1, 552), (record.State, record.Attempts, record.SmtpCode));
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_fails_a_recipient_refused_for_policy_twice_in_a_run_while_the_relay_delivers_the_others()
    {
        var spam = EngineHarness.Address(3);
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = c => c.Recipient == spam ? SmtpAction.Reply(554, "5.7.1 rejected as spam") : null,
        });
        await using var harness = await EngineHarness.CreateAsync(8);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        // One refusal might have been the start of a block: the first is free; the second, amid deliveries, is the recipient's.
        Assert.Equal((DeliveryStop.Completed, 7L, 1L), (result.Stop, result.Counts.Sent, result.Counts.Failed));
        var record = await harness.RecordAsync(3);
        Assert.Equal((DeliveryState.Failed, 1, 554), (record.State, record.Attempts, record.SmtpCode));
        Assert.Equal(2, server.FinalDotsFor(spam));
    }

    [Fact]
    public async Task Send_retries_when_the_connection_closes_in_the_middle_of_the_data()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnDataBody = c => c.Attempt == 1 ? SmtpAction.Close : null,
        });
        await using var harness = await EngineHarness.CreateAsync(1);
        // Larger than every socket buffer on the way, so the close reaches the client before its final dot does.
        var factory = new TestMessageFactory { Override = item => TestMessageFactory.Large(item, 32 * 1024 * 1024) };

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port), factory);

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Sent, 1), (record.State, record.Attempts));
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_marks_in_doubt_when_the_connection_drops_after_the_final_dot_and_never_resends()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = c => c.Recipient == Alice ? SmtpAction.Close : null,
        });
        await using var harness = await EngineHarness.CreateAsync(2);

        var first = await harness.SendAsync(EngineHarness.Campaign(server.Port));
        var second = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Completed, first.Stop);
        Assert.Equal((1L, 1L), (second.Counts.InDoubt, second.Counts.Sent));
        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.InDoubt, 1), (record.State, record.Attempts));
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_marks_in_doubt_when_no_reply_to_the_final_dot_comes_in_time()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnFinalDot = _ => SmtpAction.Stall,
        });
        await using var harness = await EngineHarness.CreateAsync(1);

        await harness.SendAsync(EngineHarness.Campaign(t => t.FinalReplyTimeout = TimeSpan.FromMilliseconds(500), server.Port));

        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.InDoubt, 1), (record.State, record.Attempts));
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task Send_fails_with_the_last_reason_when_attempts_run_out()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = _ => SmtpAction.Reply(450, "4.2.1 greylisted"),
        });
        await using var harness = await EngineHarness.CreateAsync(1);

        await harness.SendAsync(EngineHarness.Campaign(t => t.MaxAttempts = 3, server.Port));

        var record = await harness.RecordAsync(0);
        Assert.Equal((DeliveryState.Failed, 3, 450), (record.State, record.Attempts, record.SmtpCode));
        Assert.Contains("greylisted", record.SmtpText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_writes_the_sending_mark_durably_before_mail_from()
    {
        await using var harness = await EngineHarness.CreateAsync(3);
        var statesSeenAtMail = new List<long>();
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            // Another connection to the database, as a crash-and-restart would see it.
            OnMail = _ =>
            {
                using var connection = new SqliteConnection($"Data Source={harness.DbPath}");
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM recipients WHERE state = 1";
                lock (statesSeenAtMail)
                {
                    statesSeenAtMail.Add((long)command.ExecuteScalar()!);
                }

                return null;
            },
        });

        await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port));

        Assert.Equal([1L, 1L, 1L], statesSeenAtMail);
    }

    [Fact]
    public async Task Send_fails_over_to_another_relay_when_one_is_down()
    {
        await using var down = ScriptableSmtpServer.Start(new SmtpScript { Refuse = true });
        await using var up = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(10);

        var result = await harness.SendAsync(EngineHarness.Campaign(down.Port, up.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.Equal(10, result.Counts.Sent);
        Assert.Equal(10, up.Messages.Count);
        Assert.Empty(down.Messages);
    }

    [Fact]
    public async Task Work_put_back_by_a_dead_relay_wakes_an_idle_connection_of_a_live_one()
    {
        // Many connections to the dead relay take most items first and put them back; the live relay's single
        // connection may be parked waiting for work when they do. It must still get every item.
        for (var round = 0; round < 5; round++)
        {
            await using var down = ScriptableSmtpServer.Start(new SmtpScript { Refuse = true });
            await using var up = ScriptableSmtpServer.Start(new SmtpScript());
            await using var harness = await EngineHarness.CreateAsync(3);
            var campaign = EngineHarness.Campaign(down.Port, up.Port);
            var relays = new List<RelayOptions>
            {
                new() { Url = campaign.Relays[0].Url, Connections = 6, StartTls = StartTlsMode.None },
                new() { Url = campaign.Relays[1].Url, Connections = 1, StartTls = StartTlsMode.None },
            };
            var engine = new DeliveryEngine(EngineHarness.WithRelays(campaign, relays), harness.Store, new TestMessageFactory());

            var result = await engine.RunAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

            Assert.Equal((DeliveryStop.Completed, 3L), (result.Stop, result.Counts.Sent));
            Assert.Equal(3, up.Messages.Count);
        }
    }

    [Fact]
    public async Task Send_skips_a_recipient_the_renderer_rejects_and_sends_the_rest()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(3);
        var factory = new TestMessageFactory
        {
            Override = item => item.RecipientId == "r1" ? throw new RecipientRejectedException("r1", "header-injection: Subject") : null,
        };

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port), factory);

        Assert.Equal((2L, 1L), (result.Counts.Sent, result.Counts.Skipped));
        var record = await harness.RecordAsync(1);
        Assert.Equal((DeliveryState.Skipped, "rejected:header-injection: Subject"), (record.State, record.SkipReason));
        Assert.Equal(0, server.FinalDotsFor(EngineHarness.Address(1)));
    }

    [Fact]
    public async Task Send_skips_addresses_suppressed_before_they_are_sent()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(3);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port), suppression: new FixedSuppression(EngineHarness.Address(2)));

        Assert.Equal((2L, 1L), (result.Counts.Sent, result.Counts.Skipped));
        Assert.Equal("suppressed", (await harness.RecordAsync(2)).SkipReason);
        Assert.Equal(0, server.FinalDotsFor(EngineHarness.Address(2)));
    }

    [Fact]
    public async Task A_finished_campaign_sends_nothing_when_run_again()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(5);

        await harness.SendAsync(EngineHarness.Campaign(server.Port));
        var again = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(DeliveryStop.Completed, again.Stop);
        Assert.Equal(5, server.Messages.Count);
    }

    [Fact]
    public async Task Stop_requested_before_start_sends_nothing_and_leaves_rows_pending()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var harness = await EngineHarness.CreateAsync(5);
        using var stop = new CancellationTokenSource();
        var engine = new DeliveryEngine(EngineHarness.Campaign(server.Port), harness.Store, new TestMessageFactory());
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => EngineHarness.RunAsync(engine, stop.Token));

        Assert.Equal(5, (await harness.Store.GetCountsAsync("test", TestContext.Current.CancellationToken)).Pending);
        Assert.Empty(server.Messages);
    }

    [Fact]
    public async Task Stop_during_a_run_finishes_the_transaction_in_flight_and_leaves_the_rest_pending()
    {
        using var stop = new CancellationTokenSource();
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            // The stop arrives while the third message's final dot waits for its reply.
            OnFinalDot = c =>
            {
                if (c.Transaction == 3)
                {
                    stop.Cancel();
                }

                return null;
            },
        });
        await using var harness = await EngineHarness.CreateAsync(50);
        var engine = new DeliveryEngine(EngineHarness.Campaign(t => t.Connections = 1, server.Port), harness.Store, new TestMessageFactory());

        var result = await EngineHarness.RunAsync(engine, stop.Token);

        Assert.Equal(DeliveryStop.Stopped, result.Stop);
        Assert.Equal(0, result.Counts.Sending);
        Assert.Equal(server.Messages.Count, (int)result.Counts.Sent);
        Assert.InRange(result.Counts.Sent, 3, 4);
        Assert.Equal(50 - result.Counts.Sent, result.Counts.Pending);
    }

    private static SmtpScript FailFirstAttemptAt(string stage, SmtpAction action, bool always = false)
    {
        SmtpAction? Hook(SmtpStageContext c) => always || c.Attempt <= 1 ? action : null;
        return stage switch
        {
            "mail" => new SmtpScript { OnMail = c => always || c.Transaction == 1 ? action : null },
            "rcpt" => new SmtpScript { OnRcpt = Hook },
            "data" => new SmtpScript { OnData = Hook },
            _ => throw new ArgumentOutOfRangeException(nameof(stage)),
        };
    }

    private sealed class FixedSuppression(params string[] addresses) : ISuppressionList
    {
        public Task<IReadOnlySet<string>> FindSuppressedAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlySet<string>>(normalizedEmails.Where(addresses.Contains).ToHashSet());
    }
}
