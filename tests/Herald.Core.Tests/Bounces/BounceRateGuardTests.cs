using Herald.Bounces;
using Herald.Campaigns;
using Herald.Delivery;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Core.Tests.Bounces;

public sealed class BounceRateGuardTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-rate-guard-").FullName;
    private readonly ManualTimeProvider _time = new();
    private SqliteBounceStore _store = null!;
    private long _delivered;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _store = new SqliteBounceStore(Path.Combine(_dir, "herald.db"));
        await _store.MigrateAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void The_hard_bounce_rule_pauses_once_the_rate_passes_the_limit_not_when_it_equals_it()
    {
        var guard = Guard(new BounceOptions());
        // One in 20 (5 %) for 1,200 attempts: at the limit all along, never over it.
        for (var i = 0; i < 1200; i++)
        {
            Assert.Null(guard.Observe(i % 20 == 19 ? Hard(i) : Sent(i)));
        }

        Assert.Equal("hard-bounce rate 5.1 % over the last 1,000 attempts (limit 5 %)", guard.Observe(Hard(1200)));
    }

    [Fact]
    public void The_hard_bounce_rule_waits_for_its_minimum_sample()
    {
        var guard = Guard(new BounceOptions());
        for (var i = 0; i < 50; i++)
        {
            Assert.Null(guard.Observe(Hard(i)));
        }

        for (var i = 50; i < 99; i++)
        {
            Assert.Null(guard.Observe(Sent(i)));
        }

        Assert.Equal(100, BounceRateGuard.MinimumAttempts);
        Assert.Equal("hard-bounce rate 50.0 % over the last 100 attempts (limit 5 %)", guard.Observe(Sent(99)));

        // A window smaller than the minimum sample applies once it is full.
        var small = Guard(new BounceOptions { HardBounceWindow = 10, PauseAtHardBounceRate = 0.2 });
        for (var i = 0; i < 9; i++)
        {
            Assert.Null(small.Observe(i < 3 ? Hard(i) : Sent(i)));
        }

        Assert.Equal("hard-bounce rate 30.0 % over the last 10 attempts (limit 20 %)", small.Observe(Sent(9)));
    }

    [Fact]
    public void Only_final_outcomes_count_and_only_a_hard_reply_is_a_hard_bounce()
    {
        var guard = Guard(new BounceOptions());
        for (var i = 0; i < 150; i++)
        {
            // Retried later (4xx, or a policy refusal given another chance): not an attempt of the window yet.
            Assert.Null(guard.Observe(Observation(i, DeliveryState.Pending, AttemptKind.Retry, 450, "4.2.1 Mailbox busy", SmtpStage.Rcpt)));
            Assert.Null(guard.Observe(Observation(i, DeliveryState.Pending, AttemptKind.Rejected, 550, "5.1.1 User unknown", SmtpStage.Rcpt)));
        }

        for (var i = 0; i < 94; i++)
        {
            // Mailbox full and in-doubt outcomes are attempts, not hard bounces.
            var observation = (i % 3) switch
            {
                0 => Observation(i, DeliveryState.Failed, AttemptKind.Rejected, 552, "5.2.2 Mailbox full", SmtpStage.Rcpt),
                1 => Observation(i, DeliveryState.InDoubt, AttemptKind.InDoubt, null, "connection lost after the final dot", SmtpStage.Final),
                _ => Sent(i),
            };
            Assert.Null(guard.Observe(observation));
        }

        for (var i = 94; i < 99; i++)
        {
            Assert.Null(guard.Observe(Hard(i)));
        }

        Assert.Equal("hard-bounce rate 6.0 % over the last 100 attempts (limit 5 %)", guard.Observe(Hard(99)));
    }

    [Fact]
    public async Task Off_never_pauses_and_both_off_needs_no_guard()
    {
        var guard = Guard(new BounceOptions { PauseAtHardBounceRate = null, PauseAtComplaintRate = null });
        for (var i = 0; i < 300; i++)
        {
            Assert.Null(guard.Observe(Hard(i)));
        }

        _delivered = 1000;
        await AppendAsync(BounceType.Complaint, Enumerable.Range(0, 50));
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await PollAsync(guard));
        }

        Assert.False(BounceRateGuard.IsNeeded(new BounceOptions { PauseAtHardBounceRate = null, PauseAtComplaintRate = null }));
        Assert.True(BounceRateGuard.IsNeeded(new BounceOptions { PauseAtHardBounceRate = null }));
        Assert.True(BounceRateGuard.IsNeeded(new BounceOptions { PauseAtComplaintRate = null }));
    }

    [Fact]
    public async Task Asynchronous_hard_bounces_of_the_windows_recipients_count_once_the_store_reports_them()
    {
        var guard = Guard(new BounceOptions { PauseAtComplaintRate = null });
        for (var i = 0; i < 200; i++)
        {
            Assert.Null(guard.Observe(Sent(i)));
        }

        Assert.Null(await PollAsync(guard));
        // Bounces of 12 recipients of the window (6 %), and of 40 the window never held (another run's): those do not count.
        await AppendAsync(BounceType.Hard, Enumerable.Range(0, 12));
        await AppendAsync(BounceType.Hard, Enumerable.Range(1000, 40));
        // Also soft bounces and complaints: not hard bounces.
        await AppendAsync(BounceType.Soft, Enumerable.Range(100, 50));

        // At most one question a second: a poll sooner asks nothing.
        Assert.Null(await guard.PollAsync(Ct));
        Assert.Equal("hard-bounce rate 6.0 % over the last 200 attempts (limit 5 %)", await PollAsync(guard));
    }

    [Fact]
    public async Task The_complaint_rule_pauses_when_complaints_reach_the_limit_of_the_delivered()
    {
        _delivered = 750;
        var guard = Guard(new BounceOptions());
        Assert.Null(await PollAsync(guard));
        await AppendAsync(BounceType.Complaint, [1, 2]);
        Assert.Null(await PollAsync(guard));
        // The same recipient complaining twice is one complainant.
        await AppendAsync(BounceType.Complaint, [2]);
        Assert.Null(await PollAsync(guard));
        await AppendAsync(BounceType.Complaint, [3]);

        Assert.Equal("complaint rate 0.4 % (3 of 750 delivered; limit 0.3 %)", await PollAsync(guard));
        Assert.True(BounceRateGuard.IsComplaintPause("complaint rate 0.4 % (3 of 750 delivered; limit 0.3 %)"));
        Assert.False(BounceRateGuard.IsComplaintPause("hard-bounce rate 6.0 % over the last 200 attempts (limit 5 %)"));

        // "Reaches": exactly at the limit pauses; this run's deliveries count with the ledger's earlier ones.
        _delivered = 900;
        var exact = Guard(new BounceOptions());
        Assert.Null(await PollAsync(exact));
        for (var i = 0; i < 100; i++)
        {
            _delivered++;
            Assert.Null(exact.Observe(Sent(i)));
        }

        // The window now has enough attempts for the hard-bounce rule too: the two rules take turns, one question a poll.
        Assert.Null(await PollAsync(exact));
        Assert.Equal("complaint rate 0.3 % (3 of 1,000 delivered; limit 0.3 %)", await PollAsync(exact));
    }

    [Fact]
    public async Task The_complaint_rule_waits_for_its_minimum_of_delivered_messages()
    {
        _delivered = BounceRateGuard.MinimumDelivered - 1;
        await AppendAsync(BounceType.Complaint, Enumerable.Range(0, 20));
        var guard = Guard(new BounceOptions());
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await PollAsync(guard));
        }

        _delivered++;
        Assert.Null(guard.Observe(Sent(0)));
        Assert.Equal("complaint rate 4.0 % (20 of 500 delivered; limit 0.3 %)", await PollAsync(guard));
    }

    [Fact]
    public async Task A_run_that_continues_a_complaint_pause_pauses_again_only_at_a_new_complaint()
    {
        _delivered = 1000;
        await AppendAsync(BounceType.Complaint, Enumerable.Range(0, 5));
        // A run that does not continue that pause (a new start after a stop, say) pauses at once.
        Assert.Equal("complaint rate 0.5 % (5 of 1,000 delivered; limit 0.3 %)", await PollUntilReasonAsync(Guard(new BounceOptions())));

        var guard = Guard(new BounceOptions(), continuesComplaintPause: true);
        for (var i = 0; i < 3; i++)
        {
            Assert.Null(await PollAsync(guard));
        }

        await AppendAsync(BounceType.Complaint, [5]);
        Assert.Equal("complaint rate 0.6 % (6 of 1,000 delivered; limit 0.3 %)", await PollAsync(guard));
    }

    [Fact]
    public async Task A_store_that_fails_only_skips_the_poll_and_the_guard_speaks_once_it_answers()
    {
        var missing = Path.Combine(_dir, "not-yet", "herald.db");
        var failing = true;
        _delivered = 1000;
        var store = new SqliteBounceStore(missing);
        await using (store)
        {
            var guard = new BounceRateGuard("test", new BounceOptions(), store,
                _ => Volatile.Read(ref failing) ? throw new StoreException("store unavailable", isTransient: true) : Task.FromResult(_delivered), false, _time);
            for (var i = 0; i < 200; i++)
            {
                Assert.Null(guard.Observe(Sent(i)));
            }

            for (var i = 0; i < 4; i++)
            {
                Assert.Null(await PollAsync(guard));
            }

            Volatile.Write(ref failing, false);
            Directory.CreateDirectory(Path.GetDirectoryName(missing)!);
            await store.MigrateAsync(Ct);
            await store.AppendAsync(Events(BounceType.Complaint, Enumerable.Range(0, 4)), Ct);
            await store.AppendAsync(Events(BounceType.Hard, Enumerable.Range(0, 11)), Ct);

            var reasons = new HashSet<string>();
            for (var i = 0; i < 6 && reasons.Count < 2; i++)
            {
                if (await PollAsync(guard) is { } reason)
                {
                    reasons.Add(reason);
                }
            }

            Assert.Equal(
                ["complaint rate 0.4 % (4 of 1,000 delivered; limit 0.3 %)", "hard-bounce rate 5.5 % over the last 200 attempts (limit 5 %)"],
                reasons.Order(StringComparer.Ordinal));
        }
    }

    private BounceRateGuard Guard(BounceOptions options, bool continuesComplaintPause = false) =>
        new("test", options, _store, _ => Task.FromResult(Volatile.Read(ref _delivered)), continuesComplaintPause, _time);

    /// <summary>A poll a second after the last one (the guard asks the store at most once a second).</summary>
    private async Task<string?> PollAsync(BounceRateGuard guard)
    {
        _time.Advance(TimeSpan.FromSeconds(1));
        return await guard.PollAsync(Ct);
    }

    private async Task<string?> PollUntilReasonAsync(BounceRateGuard guard)
    {
        for (var i = 0; i < 5; i++)
        {
            if (await PollAsync(guard) is { } reason)
            {
                return reason;
            }
        }

        return null;
    }

    private Task AppendAsync(BounceType type, IEnumerable<int> recipients) => _store.AppendAsync(Events(type, recipients), Ct);

    private List<BounceEvent> Events(BounceType type, IEnumerable<int> recipients) =>
        [.. recipients.Select(i => new BounceEvent(Guid.NewGuid(), _time.GetUtcNow(), "test", $"r{i}", $"user{i}@example.com", type,
            type == BounceType.Complaint ? null : "5.1.1", "test", type == BounceType.Complaint ? BounceSource.Arf : BounceSource.Dsn))];

    private static AttemptObservation Sent(int i) => Observation(i, DeliveryState.Sent, AttemptKind.Delivered, 250, "2.0.0 Ok: queued", SmtpStage.Final);

    private static AttemptObservation Hard(int i) =>
        Observation(i, DeliveryState.Failed, AttemptKind.Rejected, 550, $"5.1.1 <user{i}@example.com>: Recipient address rejected: User unknown", SmtpStage.Rcpt);

    private static AttemptObservation Observation(int i, DeliveryState state, AttemptKind kind, int? code, string text, SmtpStage stage)
    {
        var result = new AttemptResult(kind, code, text, ConnectionBroken: false) { Stage = stage };
        return new AttemptObservation(new WorkItem(i, $"r{i}", $"user{i}@example.com", default, 0, null, $"<r{i}.test@shop.example.com>"), result, ReplyClassifier.Classify(result), state, "smtp-1");
    }
}
