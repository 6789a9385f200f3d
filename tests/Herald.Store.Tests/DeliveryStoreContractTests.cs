using System.Text;

namespace Herald.Store.Tests;

/// <summary>
/// The ledger contract (v2, several senders) every backend must pass; a subclass per backend supplies the stores and
/// the clock. "Workers" here are separate store instances where the backend allows several senders (PostgreSQL), and
/// workers of one store where it allows one sender process per campaign (SQLite).
/// </summary>
public abstract partial class DeliveryStoreContractTests : IAsyncLifetime
{
    /// <summary>A lease that never runs out during a test.</summary>
    protected static readonly TimeSpan LongLease = TimeSpan.FromMinutes(10);

    private readonly List<IDeliveryStore> _opened = [];

    /// <summary>The first worker's store: fresh and empty for every test.</summary>
    protected IDeliveryStore Store { get; private set; } = null!;

    /// <summary>A lease the test lets run out with <see cref="ExpireShortLeasesAsync"/>.</summary>
    protected abstract TimeSpan ShortLease { get; }

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh, empty, migrated store (called once per test, before anything else).</summary>
    protected abstract Task<IDeliveryStore> CreateStoreAsync();

    /// <summary>The same store opened again, as a new process would (after the previous one was disposed or crashed).</summary>
    protected abstract Task<IDeliveryStore> ReopenStoreAsync();

    /// <summary>How a second, concurrent sender reaches the same store (a new instance, or the same one on SQLite).</summary>
    protected abstract Task<IDeliveryStore> OpenPeerAsync();

    /// <summary>Lets <paramref name="span"/> pass on the store's clock.</summary>
    protected abstract Task PassAsync(TimeSpan span);

    /// <summary>Opens <paramref name="count"/> stores on one new database at once, each migrating it.</summary>
    protected abstract Task<IReadOnlyList<IDeliveryStore>> OpenMigratingConcurrentlyAsync(int count);

    public async ValueTask InitializeAsync() => Store = Track(await CreateStoreAsync());

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened.Distinct())
        {
            await store.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Registers a store for disposal at the end of the test.</summary>
    protected T Track<T>(T store) where T : IDeliveryStore
    {
        _opened.Add(store);
        return store;
    }

    protected async Task<IDeliveryStore> PeerAsync() => Track(await OpenPeerAsync());

    protected Task ExpireShortLeasesAsync() => PassAsync(ShortLease + (ShortLease / 2));

    protected static async Task PlanAsync(IDeliveryStore store, string campaign, int pending, int skipped = 0, string fingerprint = "f1")
    {
        await using var writer = await store.BeginPlanAsync(campaign, fingerprint, Ct);
        var entries = new List<PlanEntry>();
        for (var i = 0; i < pending; i++)
        {
            entries.Add(new PlanEntry($"r{i}", $"user{i}@example.com", Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), null, $"<r{i}.{campaign}@example.com>"));
        }

        for (var i = 0; i < skipped; i++)
        {
            entries.Add(new PlanEntry($"s{i}", $"skip{i}@example.com", ReadOnlyMemory<byte>.Empty, "invalid", $"<s{i}.{campaign}@example.com>"));
        }

        await writer.AddAsync(entries, Ct);
        await writer.CommitAsync(Ct);
    }

    protected static Task StartAsync(IDeliveryStore store, string campaign, string worker, TimeSpan? lease = null) =>
        store.RegisterWorkerAsync(new WorkerInfo(campaign, worker, "test-host", 4242), lease ?? LongLease, Ct);

    protected static Outcome Sent(WorkItem item) => new(item.Id, item.Token, DeliveryState.Sent, 250, "2.0.0 Ok", "relay-a");

    [Fact]
    public async Task Plan_is_written_with_pending_and_skipped_rows_and_counted()
    {
        await PlanAsync(Store, "c1", pending: 3, skipped: 2);

        var counts = await Store.GetCountsAsync("c1", Ct);
        Assert.Equal((3L, 2L, 5L), (counts.Pending, counts.Skipped, counts.Total));
        var plan = await Store.GetPlanAsync("c1", Ct);
        Assert.NotNull(plan);
        Assert.Equal(("f1", 5L, false), (plan.Fingerprint, plan.Rows, plan.Started));
        Assert.Equal(["c1"], await Store.ListCampaignsAsync(Ct));
    }

    [Fact]
    public async Task A_campaign_is_unfinished_while_a_row_is_pending_or_sending_and_not_once_every_row_is_settled()
    {
        await PlanAsync(Store, "c1", pending: 2, skipped: 1);
        await PlanAsync(Store, "c2", pending: 1);
        await StartAsync(Store, "c1", "w1");
        Assert.True(await Store.HasUnfinishedAsync("c1", Ct));

        var items = await Store.ClaimAsync("c1", "w1", 2, LongLease, Ct);
        Assert.Equal(2, (await Store.CommitAsync("w1", items.Select(i => i.Claimed).ToList(), [], Ct)).Marked.Count);
        Assert.True(await Store.HasUnfinishedAsync("c1", Ct));

        await Store.CommitAsync("w1", [], [Sent(items[0])], Ct);
        Assert.True(await Store.HasUnfinishedAsync("c1", Ct));

        await Store.CommitAsync("w1", [], [new Outcome(items[1].Id, items[1].Token, DeliveryState.Failed, 550, "5.1.1 no such user", "relay-a")], Ct);
        Assert.False(await Store.HasUnfinishedAsync("c1", Ct));
        Assert.True(await Store.HasUnfinishedAsync("c2", Ct));
        Assert.False(await Store.HasUnfinishedAsync("no-such-campaign", Ct));
    }

    [Fact]
    public async Task Plan_disposed_without_commit_leaves_previous_plan_untouched()
    {
        await PlanAsync(Store, "c1", pending: 2, fingerprint: "old");

        await using (var writer = await Store.BeginPlanAsync("c1", "new", Ct))
        {
            await writer.AddAsync([new PlanEntry("x", "x@example.com", ReadOnlyMemory<byte>.Empty, null, "<x@e>")], Ct);
        }

        var plan = await Store.GetPlanAsync("c1", Ct);
        Assert.Equal("old", plan!.Fingerprint);
        Assert.Equal(2, (await Store.GetCountsAsync("c1", Ct)).Pending);
    }

    [Fact]
    public async Task Replanning_replaces_a_plan_that_has_not_started()
    {
        await PlanAsync(Store, "c1", pending: 5, fingerprint: "old");
        await PlanAsync(Store, "c1", pending: 2, fingerprint: "new");

        Assert.Equal(("new", 2L), ((await Store.GetPlanAsync("c1", Ct))!.Fingerprint, (await Store.GetCountsAsync("c1", Ct)).Pending));
    }

    [Fact]
    public async Task Claim_returns_due_rows_in_plan_order_once_with_a_larger_token_per_claim()
    {
        await PlanAsync(Store, "c1", pending: 5);
        await StartAsync(Store, "c1", "w1");

        var first = await Store.ClaimAsync("c1", "w1", 3, LongLease, Ct);
        var second = await Store.ClaimAsync("c1", "w1", 3, LongLease, Ct);

        Assert.Equal(["r0", "r1", "r2"], first.Select(w => w.RecipientId));
        Assert.Equal(["r3", "r4"], second.Select(w => w.RecipientId));
        Assert.Empty(await Store.ClaimAsync("c1", "w1", 3, LongLease, Ct));
        Assert.Equal("{\"n\":0}", Encoding.UTF8.GetString(first[0].Context.Span));
        Assert.Equal("<r0.c1@example.com>", first[0].MessageId);
        Assert.Single(first.Select(i => i.Token).Distinct());
        Assert.Single(second.Select(i => i.Token).Distinct());
        Assert.True(first[0].Token > 0);
        Assert.True(second[0].Token > first[0].Token);
    }

    [Fact]
    public async Task Commit_marks_sending_counts_the_attempt_and_records_outcomes()
    {
        await PlanAsync(Store, "c1", pending: 3);
        await StartAsync(Store, "c1", "w1");
        var items = await Store.ClaimAsync("c1", "w1", 3, LongLease, Ct);

        var marked = await Store.CommitAsync("w1", items.Select(i => i.Claimed).ToList(), [], Ct);
        Assert.Equal(3, marked.Marked.Count);
        Assert.Empty(marked.Lost);
        Assert.Equal(3, (await Store.GetCountsAsync("c1", Ct)).Sending);

        var done = await Store.CommitAsync("w1", [], [
            new Outcome(items[0].Id, items[0].Token, DeliveryState.Sent, 250, "2.0.0 Ok: queued as ABC", "relay-a"),
            new Outcome(items[1].Id, items[1].Token, DeliveryState.Failed, 550, "5.1.1 no such user", "relay-a"),
            new Outcome(items[2].Id, items[2].Token, DeliveryState.InDoubt, null, "connection lost after the final dot", "relay-a"),
        ], Ct);
        Assert.Empty(done.Lost);

        var counts = await Store.GetCountsAsync("c1", Ct);
        Assert.Equal((1L, 1L, 1L, 0L, 0L), (counts.Sent, counts.Failed, counts.InDoubt, counts.Sending, counts.Pending));
        Assert.True(counts.AllFinal);
        var records = await ReadAllAsync(Store, "c1");
        Assert.Equal((DeliveryState.Sent, 1, 250, "2.0.0 Ok: queued as ABC", "relay-a"), (records[0].State, records[0].Attempts, records[0].SmtpCode, records[0].SmtpText, records[0].Relay));
        Assert.Equal((DeliveryState.Failed, 550), (records[1].State, records[1].SmtpCode));
        Assert.NotNull(records[0].UpdatedAt);
        Assert.True((await Store.GetPlanAsync("c1", Ct))!.Started);
    }

    [Fact]
    public async Task Mark_and_outcome_in_one_commit_for_different_rows()
    {
        await PlanAsync(Store, "c1", pending: 2);
        await StartAsync(Store, "c1", "w1");
        var items = await Store.ClaimAsync("c1", "w1", 2, LongLease, Ct);
        await Store.CommitAsync("w1", [items[0].Claimed], [], Ct);

        var result = await Store.CommitAsync("w1", [items[1].Claimed], [Sent(items[0])], Ct);

        Assert.Equal([items[1].Id], result.Marked);
        var counts = await Store.GetCountsAsync("c1", Ct);
        Assert.Equal((1L, 1L), (counts.Sent, counts.Sending));
    }

    [Fact]
    public async Task Retry_outcome_returns_row_to_pending_not_claimable_before_its_time()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        await Store.CommitAsync("w1", [item.Claimed], [], Ct);

        var now = (await Store.GetNextWorkAsync("c1", "w1", Ct)).Now;
        var next = Milliseconds(now + ShortLease);
        await Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, DeliveryState.Pending, 451, "4.3.0 try later", "relay-a", next)], Ct);

        Assert.Empty(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        var wait = await Store.GetNextWorkAsync("c1", "w1", Ct);
        Assert.Equal(next, wait.NextAttemptAt);
        Assert.Null(wait.PeerLeaseExpiresAt);
        await ExpireShortLeasesAsync();
        var again = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        Assert.Equal(1, again.Attempts);
        Assert.NotNull(again.FirstAttemptAt);
    }

    [Fact]
    public async Task Stale_worker_mark_and_outcome_are_refused_once_another_worker_took_the_row()
    {
        await PlanAsync(Store, "c1", pending: 1);
        var peer = await PeerAsync();
        await StartAsync(Store, "c1", "w1");
        await StartAsync(peer, "c1", "w2");
        var mine = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, ShortLease, Ct));

        await ExpireShortLeasesAsync();
        var theirs = Assert.Single(await peer.ClaimAsync("c1", "w2", 1, LongLease, Ct));
        Assert.Equal(mine.Id, theirs.Id);
        Assert.True(theirs.Token > mine.Token);

        var refused = await Store.CommitAsync("w1", [mine.Claimed], [], Ct);
        Assert.Empty(refused.Marked);
        Assert.Equal([mine.Id], refused.Lost);
        Assert.Equal([theirs.Id], (await peer.CommitAsync("w2", [theirs.Claimed], [], Ct)).Marked);
        // An outcome under the old token changes nothing either, even from a worker with the same name.
        var stale = await Store.CommitAsync("w1", [], [Sent(mine)], Ct);
        Assert.Equal([mine.Id], stale.Lost);
        Assert.Equal([mine.Id], (await peer.CommitAsync("w2", [], [Sent(mine) with { Token = mine.Token }], Ct)).Lost);
        Assert.Equal(1, (await Store.GetCountsAsync("c1", Ct)).Sending);
        Assert.Empty((await peer.CommitAsync("w2", [], [Sent(theirs)], Ct)).Lost);
        Assert.Equal(1, (await Store.GetCountsAsync("c1", Ct)).Sent);
    }

    [Fact]
    public async Task Mark_is_refused_after_the_lease_ran_out()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, ShortLease, Ct));

        await ExpireShortLeasesAsync();

        // Nobody took it yet, but an expired lease is not a licence to start sending: recovery may be settling it.
        var result = await Store.CommitAsync("w1", [item.Claimed], [], Ct);
        Assert.Equal([item.Id], result.Lost);
        Assert.Equal((1L, 0L), ((await Store.GetCountsAsync("c1", Ct)).Pending, (await Store.GetCountsAsync("c1", Ct)).Sending));
    }

    [Fact]
    public async Task Expired_claim_on_a_pending_row_returns_it_to_the_pool()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(peer, "c1", "dead", ShortLease);
        var claimed = await peer.ClaimAsync("c1", "dead", 2, ShortLease, Ct);
        Assert.Equal(2, claimed.Count);
        await StartAsync(Store, "c1", "w1");
        Assert.Empty(await Store.ClaimAsync("c1", "w1", 10, LongLease, Ct));

        await ExpireShortLeasesAsync();
        var recovery = await Store.RecoverAsync("c1", "w1", Ct);

        Assert.Equal((0, 2), (recovery.InDoubt, recovery.Released));
        Assert.Equal(["r0", "r1"], (await Store.ClaimAsync("c1", "w1", 10, LongLease, Ct)).Select(i => i.RecipientId));
        Assert.Equal(0, (await Store.GetCountsAsync("c1", Ct)).InDoubt);
    }

    [Fact]
    public async Task Expired_lease_on_a_sending_row_makes_it_in_doubt_and_the_stale_outcome_is_refused()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(peer, "c1", "slow");
        var items = await peer.ClaimAsync("c1", "slow", 2, LongLease, Ct);
        await peer.CommitAsync("slow", [items[0].Claimed], [], Ct);
        // The worker stops renewing (paused, partitioned): its last renewal gave it a short lease.
        await peer.RenewLeaseAsync("c1", "slow", items.Select(i => i.Claimed).ToList(), ShortLease, Ct);
        await StartAsync(Store, "c1", "w1");

        await ExpireShortLeasesAsync();
        var recovery = await Store.RecoverAsync("c1", "w1", Ct);

        Assert.Equal((1, 1), (recovery.InDoubt, recovery.Released));
        var late = await peer.CommitAsync("slow", [items[1].Claimed], [Sent(items[0])], Ct);
        Assert.Empty(late.Marked);
        Assert.Equal([items[0].Id, items[1].Id], late.Lost.Order());
        var counts = await Store.GetCountsAsync("c1", Ct);
        Assert.Equal((1L, 1L, 0L, 0L), (counts.InDoubt, counts.Pending, counts.Sending, counts.Sent));
        // The in-doubt row never comes back by itself; the released one does.
        Assert.Equal(["r1"], (await Store.ClaimAsync("c1", "w1", 10, LongLease, Ct)).Select(i => i.RecipientId));
        Assert.Equal(0, (await Store.RecoverAsync("c1", "w1", Ct)).InDoubt);
    }

    [Fact]
    public async Task Recovery_leaves_a_live_workers_rows_alone()
    {
        await PlanAsync(Store, "c1", pending: 3);
        var peer = await PeerAsync();
        await StartAsync(peer, "c1", "live");
        var theirs = await peer.ClaimAsync("c1", "live", 2, LongLease, Ct);
        await peer.CommitAsync("live", [theirs[0].Claimed], [], Ct);
        await StartAsync(Store, "c1", "w1");

        await ExpireShortLeasesAsync();
        var recovery = await Store.RecoverAsync("c1", "w1", Ct);
        var again = await Store.RecoverAsync("c1", "w1", Ct);

        Assert.Equal((0, 0), (recovery.InDoubt, recovery.Released));
        Assert.Equal((0, 0), (again.InDoubt, again.Released));
        Assert.Equal(["r2"], (await Store.ClaimAsync("c1", "w1", 10, LongLease, Ct)).Select(i => i.RecipientId));
        var finish = await peer.CommitAsync("live", [theirs[1].Claimed], [Sent(theirs[0])], Ct);
        Assert.Empty(finish.Lost);
        Assert.Equal([theirs[1].Id], finish.Marked);
    }

    [Fact]
    public async Task Recovery_never_touches_the_callers_own_rows()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        await Store.CommitAsync("w1", [item.Claimed], [], Ct);
        await Store.RenewLeaseAsync("c1", "w1", [item.Claimed], ShortLease, Ct);

        await ExpireShortLeasesAsync();

        Assert.Equal((0, 0), ((await Store.RecoverAsync("c1", "w1", Ct)).InDoubt, (await Store.RecoverAsync("c1", "w1", Ct)).Released));
        Assert.Empty((await Store.CommitAsync("w1", [], [Sent(item)], Ct)).Lost);
    }

    [Fact]
    public async Task Recover_after_a_crash_turns_rows_left_sending_into_in_doubt_and_frees_claims()
    {
        await using (var crashed = await CreateStoreAsync())
        {
            await PlanAsync(crashed, "c1", pending: 3);
            await StartAsync(crashed, "c1", "w1");
            var items = await crashed.ClaimAsync("c1", "w1", 2, LongLease, Ct);
            await crashed.CommitAsync("w1", [items[0].Claimed], [], Ct);
            await crashed.RenewLeaseAsync("c1", "w1", items.Select(i => i.Claimed).ToList(), ShortLease, Ct);
        }

        var store = Track(await ReopenStoreAsync());
        await ExpireShortLeasesAsync();
        await StartAsync(store, "c1", "w2");
        var recovery = await store.RecoverAsync("c1", "w2", Ct);

        Assert.Equal((1, 1), (recovery.InDoubt, recovery.Released));
        var counts = await store.GetCountsAsync("c1", Ct);
        Assert.Equal((1L, 2L, 0L), (counts.InDoubt, counts.Pending, counts.Sending));
        var claimed = await store.ClaimAsync("c1", "w2", 10, LongLease, Ct);
        Assert.Equal(["r1", "r2"], claimed.Select(c => c.RecipientId));
        var record = (await ReadAllAsync(store, "c1"))[0];
        Assert.Equal(DeliveryState.InDoubt, record.State);
        Assert.False(string.IsNullOrEmpty(record.SmtpText));
    }

    [Fact]
    public async Task Renewal_keeps_rows_past_their_first_lease()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(Store, "c1", "w1");
        var items = await Store.ClaimAsync("c1", "w1", 2, ShortLease, Ct);
        await Store.CommitAsync("w1", [items[0].Claimed], [], Ct);

        var renewed = await Store.RenewLeaseAsync("c1", "w1", items.Select(i => i.Claimed).ToList(), LongLease, Ct);
        await ExpireShortLeasesAsync();

        Assert.Empty(renewed.Lost);
        await StartAsync(peer, "c1", "w2");
        Assert.Empty(await peer.ClaimAsync("c1", "w2", 10, LongLease, Ct));
        Assert.Equal((0, 0), ((await peer.RecoverAsync("c1", "w2", Ct)).InDoubt, (await peer.RecoverAsync("c1", "w2", Ct)).Released));
        var commit = await Store.CommitAsync("w1", [items[1].Claimed], [Sent(items[0])], Ct);
        Assert.Equal([items[1].Id], commit.Marked);
        Assert.Empty(commit.Lost);
    }

    [Fact]
    public async Task Renewal_reports_the_rows_another_worker_took()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(Store, "c1", "w1");
        await StartAsync(peer, "c1", "w2");
        var mine = await Store.ClaimAsync("c1", "w1", 2, ShortLease, Ct);
        await ExpireShortLeasesAsync();
        var taken = Assert.Single(await peer.ClaimAsync("c1", "w2", 1, LongLease, Ct));

        var renewal = await Store.RenewLeaseAsync("c1", "w1", mine.Select(i => i.Claimed).ToList(), LongLease, Ct);

        Assert.Equal([taken.Id], renewal.Lost);
        Assert.True(renewal.LeaseUntil > (await Store.GetNextWorkAsync("c1", "w1", Ct)).Now + (LongLease / 2));
        // The row it kept is its own again; the one it lost it cannot mark.
        var commit = await Store.CommitAsync("w1", mine.Select(i => i.Claimed).ToList(), [], Ct);
        Assert.Equal([mine[1].Id], commit.Marked);
        Assert.Equal([taken.Id], commit.Lost);
    }

    [Fact]
    public async Task Release_is_fenced_and_frees_only_rows_still_held()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(Store, "c1", "w1");
        await StartAsync(peer, "c1", "w2");
        var mine = await Store.ClaimAsync("c1", "w1", 2, ShortLease, Ct);
        await ExpireShortLeasesAsync();
        var taken = Assert.Single(await peer.ClaimAsync("c1", "w2", 1, LongLease, Ct));

        await Store.ReleaseAsync("w1", mine.Select(i => i.Claimed).ToList(), Ct);

        Assert.Equal([taken.Id], (await peer.CommitAsync("w2", [taken.Claimed], [], Ct)).Marked);
        Assert.Equal([mine[1].Id], (await peer.ClaimAsync("c1", "w2", 10, LongLease, Ct)).Select(i => i.Id));
    }

    [Fact]
    public async Task Released_claims_are_claimable_again()
    {
        await PlanAsync(Store, "c1", pending: 2);
        await StartAsync(Store, "c1", "w1");
        var items = await Store.ClaimAsync("c1", "w1", 2, LongLease, Ct);
        await Store.ReleaseAsync("w1", items.Select(i => i.Claimed).ToList(), Ct);

        Assert.Equal(2, (await Store.ClaimAsync("c1", "w2", 5, LongLease, Ct)).Count);
    }

    [Fact]
    public async Task Next_work_names_the_earliest_peer_lease_to_wait_for()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(peer, "c1", "w2");
        var theirs = await peer.ClaimAsync("c1", "w2", 2, LongLease, Ct);
        await peer.CommitAsync("w2", [theirs[0].Claimed], [], Ct);
        await peer.RenewLeaseAsync("c1", "w2", [theirs[0].Claimed], ShortLease, Ct);

        var mine = await Store.GetNextWorkAsync("c1", "w1", Ct);
        var own = await peer.GetNextWorkAsync("c1", "w2", Ct);

        Assert.Null(mine.NextAttemptAt);
        Assert.NotNull(mine.PeerLeaseExpiresAt);
        // The sending row's short lease is the one to wait for, measured on the store's clock.
        Assert.InRange(mine.PeerLeaseExpiresAt.Value - mine.Now, TimeSpan.Zero, ShortLease);
        Assert.Equal(mine.PeerLeaseExpiresAt, mine.Earliest);
        Assert.Null(own.PeerLeaseExpiresAt);
        Assert.Null(own.Earliest);
    }

    [Fact]
    public async Task Next_work_is_due_now_for_unclaimed_rows()
    {
        await PlanAsync(Store, "c1", pending: 1);

        var next = await Store.GetNextWorkAsync("c1", "w1", Ct);

        Assert.NotNull(next.NextAttemptAt);
        Assert.True(next.NextAttemptAt <= next.Now);
    }

    [Fact]
    public async Task Reset_in_doubt_makes_rows_pending_again_for_an_operator()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        await Store.CommitAsync("w1", [item.Claimed], [], Ct);
        await Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, DeliveryState.InDoubt, null, "lost", "r")], Ct);
        Assert.Equal(1, (await Store.GetCountsAsync("c1", Ct)).InDoubt);

        Assert.Equal(1, await Store.ResetInDoubtAsync("c1", Ct));
        var again = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        Assert.True(again.Token > item.Token);
    }

    [Fact]
    public async Task Replanning_is_refused_once_sending_started()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        await Store.CommitAsync("w1", [item.Claimed], [], Ct);

        var error = await Assert.ThrowsAsync<StoreException>(() => Store.BeginPlanAsync("c1", "f2", Ct));
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task Skipped_outcome_applies_to_a_claimed_row_before_it_is_marked()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));

        await Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, DeliveryState.Skipped, null, "CR/LF in header Subject", null, SkipReason: "rejected:header-injection")], Ct);

        var record = Assert.Single(await ReadAllAsync(Store, "c1"));
        Assert.Equal((DeliveryState.Skipped, "rejected:header-injection", 0), (record.State, record.SkipReason, record.Attempts));
    }

    [Fact]
    public async Task Outcome_naming_a_state_no_attempt_ends_in_is_a_caller_bug()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));

        await Assert.ThrowsAsync<ArgumentException>(() => Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, DeliveryState.Sending, null, null, null)], Ct));
    }

    [Fact]
    public async Task Read_pending_returns_rows_with_context_in_plan_order_and_claims_nothing()
    {
        await PlanAsync(Store, "c1", pending: 4, skipped: 1);

        var rows = new List<WorkItem>();
        await foreach (var row in Store.ReadPendingAsync("c1", 3, Ct))
        {
            rows.Add(row);
        }

        Assert.Equal(["r0", "r1", "r2"], rows.Select(r => r.RecipientId));
        Assert.Equal("{\"n\":1}", Encoding.UTF8.GetString(rows[1].Context.Span));
        await StartAsync(Store, "c1", "w1");
        Assert.Equal(4, (await Store.ClaimAsync("c1", "w1", 10, LongLease, Ct)).Count);
    }

    [Fact]
    public async Task Campaigns_are_kept_apart()
    {
        await PlanAsync(Store, "a", pending: 2);
        await PlanAsync(Store, "b", pending: 3);
        await StartAsync(Store, "a", "w1");

        Assert.Equal(2, (await Store.ClaimAsync("a", "w1", 10, LongLease, Ct)).Count);
        Assert.Equal(3, (await Store.GetCountsAsync("b", Ct)).Pending);
        Assert.Equal(["a", "b"], (await Store.ListCampaignsAsync(Ct)).Order());
    }

    protected static async Task<List<RecipientRecord>> ReadAllAsync(IDeliveryStore store, string campaign)
    {
        var list = new List<RecipientRecord>();
        await foreach (var record in store.ReadRecipientsAsync(campaign, Ct))
        {
            list.Add(record);
        }

        return list;
    }

    /// <summary>Stores keep at least milliseconds (SQLite keeps no more); compare times at that precision.</summary>
    protected static DateTimeOffset Milliseconds(DateTimeOffset at) => at.AddTicks(-(at.Ticks % TimeSpan.TicksPerMillisecond));
}
