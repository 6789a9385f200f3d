using System.Collections.Concurrent;

namespace Herald.Store.Tests;

public abstract partial class DeliveryStoreContractTests
{
    private enum Op
    {
        Mark,
        Release,
        Renew,
        OutcomePending,
        OutcomeSent,
        OutcomeFailed,
        OutcomeInDoubt,
        OutcomeSkipped,
    }

    [Fact]
    public async Task Every_operation_on_every_state_does_exactly_what_the_transition_table_allows()
    {
        var starts = new[]
        {
            (State: DeliveryState.Pending, Held: true),
            (State: DeliveryState.Sending, Held: true),
            (State: DeliveryState.Pending, Held: false),
            (State: DeliveryState.Sent, Held: false),
            (State: DeliveryState.Failed, Held: false),
            (State: DeliveryState.InDoubt, Held: false),
            (State: DeliveryState.Skipped, Held: false),
        };
        var ops = Enum.GetValues<Op>();
        await PlanAsync(Store, "t", pending: starts.Length * ops.Length);
        await StartAsync(Store, "t", "w1");
        var failures = new List<string>();
        foreach (var start in starts)
        {
            foreach (var op in ops)
            {
                var item = await RowInAsync(start.State, start.Held);
                var (changed, after) = await ApplyAsync(op, item);
                var (operation, target) = Describe(op, start.State);
                var allowed = start.Held && LedgerTransitions.Allows(operation, start.State, target);
                var expected = allowed ? target : start.State;
                if (changed != allowed || after != expected)
                {
                    failures.Add($"{op} on {start.State.ToName()} (held: {start.Held}): changed={changed}, state={after.ToName()}; the table says changed={allowed}, state={expected.ToName()}");
                }
            }
        }

        Assert.Empty(failures);
    }

    private static (LedgerOperation Operation, DeliveryState Target) Describe(Op op, DeliveryState from) => op switch
    {
        Op.Mark => (LedgerOperation.MarkSending, DeliveryState.Sending),
        Op.Release => (LedgerOperation.Release, from),
        Op.Renew => (LedgerOperation.Renew, from),
        Op.OutcomePending => (LedgerOperation.Outcome, DeliveryState.Pending),
        Op.OutcomeSent => (LedgerOperation.Outcome, DeliveryState.Sent),
        Op.OutcomeFailed => (LedgerOperation.Outcome, DeliveryState.Failed),
        Op.OutcomeInDoubt => (LedgerOperation.Outcome, DeliveryState.InDoubt),
        _ => (LedgerOperation.Outcome, DeliveryState.Skipped),
    };

    /// <summary>Claims the next row and brings it into <paramref name="state"/>; the item carries the last token it was held under.</summary>
    private async Task<WorkItem> RowInAsync(DeliveryState state, bool held)
    {
        var item = Assert.Single(await Store.ClaimAsync("t", "w1", 1, LongLease, Ct));
        switch (state, held)
        {
            case (DeliveryState.Pending, true):
                break;
            case (DeliveryState.Pending, false):
                await Store.ReleaseAsync("w1", [item.Claimed], Ct);
                break;
            case (DeliveryState.Skipped, _):
                await Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, DeliveryState.Skipped, null, "x", null, SkipReason: "x")], Ct);
                break;
            default:
                Assert.Single((await Store.CommitAsync("w1", [item.Claimed], [], Ct)).Marked);
                if (state != DeliveryState.Sending)
                {
                    Assert.Empty((await Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, state, 250, "x", "r")], Ct)).Lost);
                }

                break;
        }

        Assert.Equal(state, await StateOfAsync(item.Id));
        return item;
    }

    private async Task<(bool Changed, DeliveryState After)> ApplyAsync(Op op, WorkItem item)
    {
        bool changed;
        switch (op)
        {
            case Op.Mark:
                changed = (await Store.CommitAsync("w1", [item.Claimed], [], Ct)).Marked.Contains(item.Id);
                break;
            case Op.Renew:
                changed = (await Store.RenewLeaseAsync("t", "w1", [item.Claimed], LongLease, Ct)).Lost.Count == 0;
                break;
            case Op.Release:
                // A released row no longer carries the token: renewing it reports it lost. (Renewal itself is
                // fenced, so this only tells anything for rows that were held.)
                var before = (await Store.RenewLeaseAsync("t", "w1", [item.Claimed], LongLease, Ct)).Lost.Count == 0;
                await Store.ReleaseAsync("w1", [item.Claimed], Ct);
                changed = before && (await Store.RenewLeaseAsync("t", "w1", [item.Claimed], LongLease, Ct)).Lost.Count == 1;
                break;
            default:
                var target = Describe(op, DeliveryState.Pending).Target;
                var next = target == DeliveryState.Pending ? (await Store.GetNextWorkAsync("t", "w1", Ct)).Now + LongLease : (DateTimeOffset?)null;
                var outcome = new Outcome(item.Id, item.Token, target, 451, "x", "r", next, target == DeliveryState.Skipped ? "x" : null);
                changed = (await Store.CommitAsync("w1", [], [outcome], Ct)).Lost.Count == 0;
                break;
        }

        return (changed, await StateOfAsync(item.Id));
    }

    private async Task<DeliveryState> StateOfAsync(long id)
    {
        await foreach (var record in Store.ReadRecipientsAsync("t", Ct))
        {
            if (record.Id == id)
            {
                return record.State;
            }
        }

        throw new InvalidOperationException($"row {id} not found");
    }

    [Fact]
    public async Task Concurrent_workers_never_claim_the_same_row()
    {
        var peer = await PeerAsync();
        for (var round = 0; round < 4; round++)
        {
            var campaign = $"race{round}";
            const int Rows = 1500;
            await PlanAsync(Store, campaign, pending: Rows);
            var claims = new ConcurrentBag<(string Worker, IReadOnlyList<WorkItem> Items)>();
            var lost = 0;
            // The four first claims are made at once (all workers registered first), and nobody goes on before all
            // four are answered: otherwise a worker scheduled early on a busy machine could take all 1,500 rows before
            // the others ran at all, and there would be no race to check.
            var registered = new CountdownGate(4);
            var firstClaimed = new CountdownGate(4);

            async Task RunAsync(IDeliveryStore store, string worker)
            {
                await StartAsync(store, campaign, worker);
                await registered.PassAsync();
                var items = await store.ClaimAsync(campaign, worker, 17, LongLease, Ct);
                await firstClaimed.PassAsync();
                while (items.Count > 0)
                {
                    claims.Add((worker, items));
                    var commit = await store.CommitAsync(worker, items.Select(i => i.Claimed).ToList(), [], Ct);
                    Interlocked.Add(ref lost, commit.Lost.Count);
                    items = await store.ClaimAsync(campaign, worker, 17, LongLease, Ct);
                }
            }

            await Task.WhenAll(
                Task.Run(() => RunAsync(Store, "a1"), Ct),
                Task.Run(() => RunAsync(Store, "a2"), Ct),
                Task.Run(() => RunAsync(peer, "b1"), Ct),
                Task.Run(() => RunAsync(peer, "b2"), Ct));

            var ids = claims.SelectMany(c => c.Items.Select(i => i.Id)).ToList();
            Assert.Equal(Rows, ids.Count);
            Assert.Equal(Rows, ids.Distinct().Count());
            Assert.Equal(0, lost);
            Assert.Equal(claims.Count, claims.Select(c => c.Items[0].Token).Distinct().Count());
            Assert.Equal(4, claims.Select(c => c.Worker).Distinct().Count());
            Assert.Equal(Rows, (await Store.GetCountsAsync(campaign, Ct)).Sending);
        }
    }

    [Fact]
    public async Task Workers_registry_lists_live_workers_with_rows_held_and_last_renewal()
    {
        await PlanAsync(Store, "c1", pending: 4);
        await StartAsync(Store, "c1", "w1");
        var items = await Store.ClaimAsync("c1", "w1", 3, LongLease, Ct);
        await Store.CommitAsync("w1", [items[0].Claimed, items[1].Claimed], [], Ct);
        await Store.CommitAsync("w1", [], [Sent(items[0])], Ct);

        var worker = Assert.Single(await Store.ListWorkersAsync("c1", Ct));
        Assert.Equal(("w1", "test-host", 4242, 2L, true), (worker.WorkerId, worker.Host, worker.ProcessId, worker.RowsHeld, worker.Live));
        Assert.True(worker.LeaseUntil > worker.LastRenewalAt);
        Assert.True(worker.LastRenewalAt >= worker.StartedAt);

        await PassAsync(TimeSpan.FromMilliseconds(20));
        await Store.RenewLeaseAsync("c1", "w1", [items[1].Claimed, items[2].Claimed], LongLease, Ct);
        var renewed = Assert.Single(await Store.ListWorkersAsync("c1", Ct));
        Assert.True(renewed.LastRenewalAt > worker.LastRenewalAt);
        Assert.Equal(worker.StartedAt, renewed.StartedAt);
        Assert.Empty(await Store.ListWorkersAsync("other", Ct));

        await Store.CommitAsync("w1", [], [Sent(items[1])], Ct);
        await Store.ReleaseAsync("w1", [items[2].Claimed], Ct);
        await Store.UnregisterWorkerAsync("c1", "w1", Ct);
        Assert.Empty(await Store.ListWorkersAsync("c1", Ct));
    }

    [Fact]
    public async Task A_worker_whose_lease_expired_is_listed_as_not_live_until_recovery_takes_its_rows()
    {
        await PlanAsync(Store, "c1", pending: 2);
        var peer = await PeerAsync();
        await StartAsync(peer, "c1", "dead", ShortLease);
        Assert.Single(await peer.ClaimAsync("c1", "dead", 1, ShortLease, Ct));
        await StartAsync(Store, "c1", "w1");

        await ExpireShortLeasesAsync();
        var listed = await Store.ListWorkersAsync("c1", Ct);
        var dead = Assert.Single(listed, w => w.WorkerId == "dead");
        Assert.Equal((false, 1L), (dead.Live, dead.RowsHeld));
        Assert.True(Assert.Single(listed, w => w.WorkerId == "w1").Live);

        await Store.RecoverAsync("c1", "w1", Ct);

        Assert.Equal(["w1"], (await Store.ListWorkersAsync("c1", Ct)).Select(w => w.WorkerId));
    }

    [Fact]
    public async Task Migrations_run_concurrently_leave_one_working_schema()
    {
        var stores = await OpenMigratingConcurrentlyAsync(4);
        foreach (var store in stores)
        {
            Track(store);
        }

        await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(Ct), Ct)));
        await PlanAsync(stores[0], "m", pending: 3);
        await StartAsync(stores[1], "m", "w1");
        Assert.Equal(3, (await stores[1].ClaimAsync("m", "w1", 10, LongLease, Ct)).Count);
        Assert.Equal(3, (await stores[3].GetCountsAsync("m", Ct)).Pending);
    }

    /// <summary>Lets its parties on only once all of them have arrived (bounded: a party that never comes fails the test).</summary>
    private sealed class CountdownGate(int parties)
    {
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _arrived;

        public Task PassAsync()
        {
            if (Interlocked.Increment(ref _arrived) == parties)
            {
                _open.SetResult();
            }

            return _open.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        }
    }
}
