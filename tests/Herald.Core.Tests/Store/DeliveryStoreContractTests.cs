using System.Text;
using Herald.Store;

namespace Herald.Core.Tests.Store;

/// <summary>The ledger contract every backend must pass; a subclass per backend supplies the store.</summary>
public abstract partial class DeliveryStoreContractTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    protected ManualTimeProvider Clock { get; } = new();

    protected abstract Task<IDeliveryStore> CreateStoreAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

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

    [Fact]
    public async Task Plan_is_written_with_pending_and_skipped_rows_and_counted()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 3, skipped: 2);

        var counts = await store.GetCountsAsync("c1", Ct);
        Assert.Equal((3L, 2L, 5L), (counts.Pending, counts.Skipped, counts.Total));
        var plan = await store.GetPlanAsync("c1", Ct);
        Assert.NotNull(plan);
        Assert.Equal(("f1", 5L, false), (plan.Fingerprint, plan.Rows, plan.Started));
        Assert.Equal(["c1"], await store.ListCampaignsAsync(Ct));
    }

    [Fact]
    public async Task Plan_disposed_without_commit_leaves_previous_plan_untouched()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 2, fingerprint: "old");

        await using (var writer = await store.BeginPlanAsync("c1", "new", Ct))
        {
            await writer.AddAsync([new PlanEntry("x", "x@example.com", ReadOnlyMemory<byte>.Empty, null, "<x@e>")], Ct);
        }

        var plan = await store.GetPlanAsync("c1", Ct);
        Assert.Equal("old", plan!.Fingerprint);
        Assert.Equal(2, (await store.GetCountsAsync("c1", Ct)).Pending);
    }

    [Fact]
    public async Task Claim_returns_due_rows_in_plan_order_once()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 5);
        await store.RecoverAsync("c1", "w1", Ct);

        var first = await store.ClaimAsync("c1", "w1", 3, Lease, Ct);
        var second = await store.ClaimAsync("c1", "w1", 3, Lease, Ct);

        Assert.Equal(["r0", "r1", "r2"], first.Select(w => w.RecipientId));
        Assert.Equal(["r3", "r4"], second.Select(w => w.RecipientId));
        Assert.Empty(await store.ClaimAsync("c1", "w1", 3, Lease, Ct));
        Assert.Equal("{\"n\":0}", Encoding.UTF8.GetString(first[0].Context.Span));
        Assert.Equal("<r0.c1@example.com>", first[0].MessageId);
    }

    [Fact]
    public async Task Commit_marks_sending_counts_the_attempt_and_records_outcomes()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 3);
        await store.RecoverAsync("c1", "w1", Ct);
        var items = await store.ClaimAsync("c1", "w1", 3, Lease, Ct);

        var marked = await store.CommitAsync("w1", items.Select(i => i.Id).ToList(), [], Ct);
        Assert.Equal(3, marked.Count);
        Assert.Equal(3, (await store.GetCountsAsync("c1", Ct)).Sending);

        await store.CommitAsync("w1", [], [
            new Outcome(items[0].Id, DeliveryState.Sent, 250, "2.0.0 Ok: queued as ABC", "relay-a"),
            new Outcome(items[1].Id, DeliveryState.Failed, 550, "5.1.1 no such user", "relay-a"),
            new Outcome(items[2].Id, DeliveryState.InDoubt, null, "connection lost after the final dot", "relay-a"),
        ], Ct);

        var counts = await store.GetCountsAsync("c1", Ct);
        Assert.Equal((1L, 1L, 1L, 0L, 0L), (counts.Sent, counts.Failed, counts.InDoubt, counts.Sending, counts.Pending));
        Assert.True(counts.AllFinal);
        var records = await ReadAllAsync(store, "c1");
        Assert.Equal((DeliveryState.Sent, 1, 250, "2.0.0 Ok: queued as ABC", "relay-a"), (records[0].State, records[0].Attempts, records[0].SmtpCode, records[0].SmtpText, records[0].Relay));
        Assert.Equal((DeliveryState.Failed, 550), (records[1].State, records[1].SmtpCode));
        Assert.True((await store.GetPlanAsync("c1", Ct))!.Started);
    }

    [Fact]
    public async Task Retry_outcome_returns_row_to_pending_not_claimable_before_its_time()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var item = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        await store.CommitAsync("w1", [item.Id], [], Ct);

        var next = Clock.GetUtcNow() + TimeSpan.FromSeconds(30);
        await store.CommitAsync("w1", [], [new Outcome(item.Id, DeliveryState.Pending, 451, "4.3.0 try later", "relay-a", next)], Ct);

        Assert.Empty(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        Assert.Equal(next, await store.GetNextDueAsync("c1", Ct));
        Clock.Advance(TimeSpan.FromSeconds(31));
        var again = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        Assert.Equal(1, again.Attempts);
        Assert.NotNull(again.FirstAttemptAt);
    }

    [Fact]
    public async Task Mark_is_refused_when_the_lease_was_lost_to_another_worker()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var mine = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));

        Clock.Advance(Lease + TimeSpan.FromSeconds(1));
        var theirs = Assert.Single(await store.ClaimAsync("c1", "w2", 1, Lease, Ct));
        Assert.Equal(mine.Id, theirs.Id);

        Assert.Empty(await store.CommitAsync("w1", [mine.Id], [], Ct));
        Assert.Single(await store.CommitAsync("w2", [theirs.Id], [], Ct));
        // An outcome from the worker that lost the row changes nothing either.
        await store.CommitAsync("w1", [], [new Outcome(mine.Id, DeliveryState.Sent, 250, "ok", "r")], Ct);
        Assert.Equal(1, (await store.GetCountsAsync("c1", Ct)).Sending);
    }

    [Fact]
    public async Task Recover_turns_rows_left_sending_into_in_doubt_and_they_are_never_claimed()
    {
        await using (var crashed = await CreateStoreAsync())
        {
            await PlanAsync(crashed, "c1", pending: 3);
            await crashed.RecoverAsync("c1", "w1", Ct);
            var items = await crashed.ClaimAsync("c1", "w1", 2, Lease, Ct);
            await crashed.CommitAsync("w1", [items[0].Id], [], Ct);
        }

        await using var store = await ReopenStoreAsync();
        Assert.Equal(1, await store.RecoverAsync("c1", "w2", Ct));
        var counts = await store.GetCountsAsync("c1", Ct);
        Assert.Equal((1L, 2L, 0L), (counts.InDoubt, counts.Pending, counts.Sending));
        // The claimed-but-unmarked row is free again at once; the in-doubt one never comes back.
        var claimed = await store.ClaimAsync("c1", "w2", 10, Lease, Ct);
        Assert.Equal(["r1", "r2"], claimed.Select(c => c.RecipientId));
    }

    [Fact]
    public async Task Reset_in_doubt_makes_rows_pending_again_for_an_operator()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var item = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        await store.CommitAsync("w1", [item.Id], [new Outcome(item.Id, DeliveryState.InDoubt, null, "lost", "r")], Ct);
        await store.CommitAsync("w1", [], [new Outcome(item.Id, DeliveryState.InDoubt, null, "lost", "r")], Ct);
        Assert.Equal(1, (await store.GetCountsAsync("c1", Ct)).InDoubt);

        Assert.Equal(1, await store.ResetInDoubtAsync("c1", Ct));
        Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
    }

    [Fact]
    public async Task Replanning_is_refused_once_sending_started()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var item = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        await store.CommitAsync("w1", [item.Id], [], Ct);

        await Assert.ThrowsAsync<StoreException>(() => store.BeginPlanAsync("c1", "f2", Ct));
    }

    [Fact]
    public async Task Released_claims_are_claimable_again()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 2);
        await store.RecoverAsync("c1", "w1", Ct);
        var items = await store.ClaimAsync("c1", "w1", 2, Lease, Ct);
        await store.ReleaseAsync("w1", items.Select(i => i.Id).ToList(), Ct);

        Assert.Equal(2, (await store.ClaimAsync("c1", "w2", 5, Lease, Ct)).Count);
    }

    [Fact]
    public async Task Skipped_outcome_applies_to_a_claimed_row_before_it_is_marked()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var item = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));

        await store.CommitAsync("w1", [], [new Outcome(item.Id, DeliveryState.Skipped, null, "CR/LF in header Subject", null, SkipReason: "rejected:header-injection")], Ct);

        var record = Assert.Single(await ReadAllAsync(store, "c1"));
        Assert.Equal((DeliveryState.Skipped, "rejected:header-injection", 0), (record.State, record.SkipReason, record.Attempts));
    }

    [Fact]
    public async Task Read_pending_returns_rows_with_context_in_plan_order_and_claims_nothing()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 4, skipped: 1);

        var rows = new List<WorkItem>();
        await foreach (var row in store.ReadPendingAsync("c1", 3, Ct))
        {
            rows.Add(row);
        }

        Assert.Equal(["r0", "r1", "r2"], rows.Select(r => r.RecipientId));
        Assert.Equal("{\"n\":1}", Encoding.UTF8.GetString(rows[1].Context.Span));
        await store.RecoverAsync("c1", "w1", Ct);
        Assert.Equal(4, (await store.ClaimAsync("c1", "w1", 10, Lease, Ct)).Count);
    }

    /// <summary>Opens the same store again, as a new process would.</summary>
    protected abstract Task<IDeliveryStore> ReopenStoreAsync();

    private static async Task<List<RecipientRecord>> ReadAllAsync(IDeliveryStore store, string campaign)
    {
        var list = new List<RecipientRecord>();
        await foreach (var record in store.ReadRecipientsAsync(campaign, Ct))
        {
            list.Add(record);
        }

        return list;
    }
}
