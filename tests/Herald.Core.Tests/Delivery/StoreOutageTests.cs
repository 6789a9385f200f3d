using System.Collections.Concurrent;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

/// <summary>
/// The engine against a store that fails: transient errors on each call, a commit applied but reported failed, a store
/// down for longer than the lease and for longer than the outage deadline, an error that is not transient. Whatever
/// happens, nobody is sent twice, nothing is sent without a durable mark, no row is left claimed, and no run hangs
/// (every run is bounded by <see cref="EngineHarness.RunLimit"/>).
/// </summary>
public sealed class StoreOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(StoreCall.Claim, 3)]
    [InlineData(StoreCall.CommitMarks, 3)]
    [InlineData(StoreCall.CommitOutcomes, 4)]
    [InlineData(StoreCall.Counts, 2)]
    [InlineData(StoreCall.Unfinished, 2)]
    [InlineData(StoreCall.NextWork, 2)]
    [InlineData(StoreCall.Register, 2)]
    [InlineData(StoreCall.Recover, 2)]
    public async Task Transient_failures_are_retried_and_everyone_is_sent_exactly_once(StoreCall call, int failures)
    {
        const int recipients = 12;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        var unmarked = new ConcurrentBag<string>();
        await using var server = ScriptableSmtpServer.Start(MarkChecked(harness, unmarked));
        var store = new FaultyDeliveryStore(harness.Store);
        store.FailNext(call, failures);

        var result = await EngineHarness.RunAsync(Engine(harness, store, server.Port));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.Equal(recipients, result.Counts.Sent);
        Assert.Equal(failures, store.Failures);
        Assert.Empty(unmarked);
        AssertEachOnce(server, recipients);
    }

    [Fact]
    public async Task Renewal_failures_do_not_stop_or_duplicate_the_send()
    {
        const int recipients = 20;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        await using var server = ScriptableSmtpServer.Start(Slow(TimeSpan.FromMilliseconds(60)));
        var store = new FaultyDeliveryStore(harness.Store);
        store.FailNext(StoreCall.Renew, 1000);

        // A lease shorter than the send: with every renewal failing, claims run out while rows wait.
        var result = await EngineHarness.RunAsync(Engine(harness, store, server.Port, lease: TimeSpan.FromSeconds(1), connections: 1));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.True(store.Calls(StoreCall.Renew) > 0);
        AssertEachOnce(server, recipients);
    }

    [Fact]
    public async Task A_mark_whose_commit_failed_is_never_sent_under_it_and_the_row_is_not_left_claimed()
    {
        // The regression of the issue: rows whose `sending` mark failed were dropped without being released while the
        // lease renewal kept them claimed, and the run waited for them forever.
        const int recipients = 30;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        var unmarked = new ConcurrentBag<string>();
        await using var server = ScriptableSmtpServer.Start(MarkChecked(harness, unmarked));
        var store = new FaultyDeliveryStore(harness.Store);
        store.FailNext(StoreCall.CommitMarks, 5);

        // Settled at once, not when its claim runs out: with a lease of 2 minutes, a row left claimed would hold the run
        // for that long (far past this bound); settled, the run takes seconds.
        var result = await Engine(harness, store, server.Port, lease: TimeSpan.FromMinutes(2)).RunAsync(Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.Equal(recipients, result.Counts.Sent);
        Assert.Empty(unmarked);
        AssertEachOnce(server, recipients);
    }

    [Fact]
    public async Task A_mark_committed_but_reported_failed_is_undone_unsent_and_the_recipient_is_sent_once()
    {
        const int recipients = 10;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        var store = new FaultyDeliveryStore(harness.Store);
        store.ApplyThenFail(3);

        var result = await EngineHarness.RunAsync(Engine(harness, store, server.Port, connections: 1));

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.Equal(recipients, result.Counts.Sent);
        Assert.Equal(0, result.Counts.InDoubt);
        AssertEachOnce(server, recipients);
        // The undone marks counted an attempt each, nothing more: at most three rows show a second one.
        var attempts = new List<int>();
        for (var i = 0; i < recipients; i++)
        {
            attempts.Add((await harness.RecordAsync(i)).Attempts);
        }

        Assert.InRange(attempts.Count(a => a == 2), 1, 3);
        Assert.All(attempts, a => Assert.InRange(a, 1, 2));
    }

    [Fact]
    public async Task A_store_down_for_longer_than_the_lease_pauses_sending_says_why_and_resumes_by_itself()
    {
        const int recipients = 40;
        const int connections = 2;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        var mails = new ConcurrentQueue<long>();
        var unmarked = new ConcurrentBag<string>();
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnMail = _ =>
            {
                mails.Enqueue(Environment.TickCount64);
                return null;
            },
            OnRcpt = MarkChecked(harness, unmarked).OnRcpt,
            OnFinalDot = _ =>
            {
                Thread.Sleep(20);
                return null;
            },
        });
        var store = new FaultyDeliveryStore(harness.Store);
        store.GoDownAfter(commits: 3, TimeSpan.FromSeconds(3));
        var engine = Engine(harness, store, server.Port, lease: TimeSpan.FromSeconds(1), connections: connections);

        var run = EngineHarness.RunAsync(engine);
        string? said = null;
        while (!run.IsCompleted && said is null)
        {
            said = engine.Snapshot().Store;
            await Task.WhenAny(run, Task.Delay(20, Ct));
        }

        var result = await run;

        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.NotNull(said);
        Assert.Contains("store unavailable", said, StringComparison.Ordinal);
        Assert.Contains("injected outage", said, StringComparison.Ordinal);
        Assert.Empty(unmarked);
        AssertEachOnce(server, recipients);
        // Paused: while the store was down, only transactions already marked before it went down could start.
        var (start, end) = store.LastOutage;
        Assert.InRange(mails.Count(t => t > start + 200 && t < end), 0, connections);
        Assert.Null(engine.Snapshot().Store);
    }

    [Fact]
    public async Task A_store_down_past_the_outage_deadline_ends_the_run_with_its_reason_and_a_new_run_finishes()
    {
        const int recipients = 30;
        const int connections = 2;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        await using var server = ScriptableSmtpServer.Start(Slow(TimeSpan.FromMilliseconds(20)));
        var store = new FaultyDeliveryStore(harness.Store);
        store.GoDownAfter(commits: 2, TimeSpan.FromHours(1));

        var result = await EngineHarness.RunAsync(Engine(harness, store, server.Port, outage: TimeSpan.FromSeconds(2), connections: connections));

        Assert.Equal(DeliveryStop.StoreUnavailable, result.Stop);
        Assert.Contains("unavailable for 2 s", result.Reason, StringComparison.Ordinal);
        Assert.Contains("injected outage", result.Reason, StringComparison.Ordinal);
        var sentBefore = server.Messages.Count;
        Assert.InRange(sentBefore, 1, recipients - 1);

        // The store is back: a new run finishes the campaign; what was in flight at the end is in_doubt at most.
        var again = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = connections, server.Port));

        Assert.Equal(DeliveryStop.Completed, again.Stop);
        Assert.InRange(again.Counts.InDoubt, 0, connections);
        Assert.Equal(recipients, again.Counts.Sent + again.Counts.InDoubt);
        for (var i = 0; i < recipients; i++)
        {
            Assert.InRange(server.FinalDotsFor(EngineHarness.Address(i)), 0, 1);
        }
    }

    [Fact]
    public async Task A_store_down_from_the_start_ends_the_run_with_StoreUnavailable_and_claims_nothing()
    {
        await using var harness = await EngineHarness.CreateAsync(5);
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        var store = new FaultyDeliveryStore(harness.Store);
        store.Down();

        var result = await EngineHarness.RunAsync(Engine(harness, store, server.Port, outage: TimeSpan.FromSeconds(1)));

        Assert.Equal(DeliveryStop.StoreUnavailable, result.Stop);
        Assert.Empty(server.Messages);
        Assert.Equal(0, store.Calls(StoreCall.Claim));
    }

    [Fact]
    public async Task An_error_that_is_not_transient_stops_the_run_with_its_message_and_leaves_no_row_claimed()
    {
        await using var harness = await EngineHarness.CreateAsync(20);
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        var store = new FaultyDeliveryStore(harness.Store);
        store.FailNext(StoreCall.CommitMarks, 1, transient: false);

        var error = await Assert.ThrowsAsync<StoreException>(() => EngineHarness.RunAsync(Engine(harness, store, server.Port)));

        Assert.False(error.IsTransient);
        Assert.Contains("injected schema error", error.Message, StringComparison.Ordinal);
        // Released at the end: a new run (after the fix) takes every row that was not sent, at once.
        var again = await harness.SendAsync(EngineHarness.Campaign(server.Port));
        Assert.Equal(DeliveryStop.Completed, again.Stop);
        AssertEachOnce(server, 20);
    }

    [Fact]
    public async Task Rows_another_worker_took_are_dropped_unsent_counted_and_the_campaign_still_completes()
    {
        const int recipients = 30;
        await using var harness = await EngineHarness.CreateAsync(recipients);
        var stolen = new ConcurrentDictionary<string, byte>();
        var stole = 0;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnMail = c =>
            {
                if (c.Transaction == 1 && Interlocked.Exchange(ref stole, 1) == 0)
                {
                    // Another sender takes over every claimed row not yet marked, as one whose lease did not run out would.
                    foreach (var email in Steal(harness.DbPath))
                    {
                        stolen[email] = 0;
                    }
                }

                return null;
            },
        });
        var engine = Engine(harness, harness.Store, server.Port, connections: 1, claimBatch: 10);

        var result = await EngineHarness.RunAsync(engine);

        Assert.NotEmpty(stolen);
        Assert.Equal(DeliveryStop.Completed, result.Stop);
        Assert.Equal(stolen.Count, engine.LostRows);
        // The peer never sends (it is a fake); once its lease is gone, recovery frees the rows and they are sent once.
        AssertEachOnce(server, recipients);
    }

    private static DeliveryEngine Engine(EngineHarness harness, IDeliveryStore store, int port, TimeSpan? lease = null, TimeSpan? outage = null, int connections = 2, int claimBatch = 0) =>
        new(EngineHarness.Campaign(t => t.Connections = connections, port), store, new TestMessageFactory(), null, new DeliveryEngineOptions
        {
            Lease = lease ?? TimeSpan.FromSeconds(30),
            StoreOutageTimeout = outage ?? TimeSpan.FromMinutes(1),
            ClaimBatch = claimBatch,
        });

    /// <summary>At every RCPT, the recipient's row must already be <c>sending</c> in the database (read by another connection).</summary>
    private static SmtpScript MarkChecked(EngineHarness harness, ConcurrentBag<string> unmarked) => new()
    {
        OnRcpt = c =>
        {
            if (harness.StateOf(c.Recipient!) != DeliveryState.Sending)
            {
                unmarked.Add(c.Recipient!);
            }

            return null;
        },
    };

    private static SmtpScript Slow(TimeSpan perMessage) => new()
    {
        OnFinalDot = _ =>
        {
            Thread.Sleep(perMessage);
            return null;
        },
    };

    private static void AssertEachOnce(ScriptableSmtpServer server, int recipients)
    {
        for (var i = 0; i < recipients; i++)
        {
            Assert.Equal(1, server.AcceptedFor(EngineHarness.Address(i)));
        }
    }

    private static List<string> Steal(string db)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}");
        connection.Open();
        using var command = connection.CreateCommand();
        // A lease of 2 s held by a sender of another process: recovery frees it once it runs out.
        command.CommandText = """
            UPDATE recipients SET lease_owner = 'peer', lease_token = 999999, lease_until = CAST(strftime('%s','now') AS INTEGER) * 1000 + 2000
            WHERE state = 0 AND lease_owner IS NOT NULL AND lease_owner <> 'peer'
            RETURNING email
            """;
        var emails = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            emails.Add(reader.GetString(0));
        }

        return emails;
    }
}
