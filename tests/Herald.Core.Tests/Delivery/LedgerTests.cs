using Herald.Delivery;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

/// <summary>The group commit's answers, per request, when one batch carries requests for the same row.</summary>
public sealed class LedgerTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_stale_claims_mark_in_the_same_batch_as_the_current_claims_is_refused_and_only_the_current_one_may_send()
    {
        await using var harness = await EngineHarness.CreateAsync(2);
        var store = new FaultyDeliveryStore(harness.Store);
        const string worker = "w1";
        await store.RegisterWorkerAsync(new WorkerInfo("test", worker, "test-host", 4242), TimeSpan.FromMinutes(1), Ct);

        // The first claim's lease runs out (1 ms); the same worker claims the row again under a new token, as after a
        // store outage longer than the lease. The first claim's work item is still in the process: it is stale.
        var stale = (await store.ClaimAsync("test", worker, 1, TimeSpan.FromMilliseconds(1), Ct)).Single();
        WorkItem? current = null;
        WorkItem? other = null;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            limit.CancelAfter(Bound);
            while (current is null)
            {
                limit.Token.ThrowIfCancellationRequested();
                // Before the lease has run out, the claim takes the other row instead: that one is kept for below.
                foreach (var item in await store.ClaimAsync("test", worker, 1, TimeSpan.FromMinutes(1), limit.Token))
                {
                    if (item.Id == stale.Id)
                    {
                        current = item;
                    }
                    else
                    {
                        other = item;
                    }
                }
            }
        }

        Assert.NotEqual(stale.Token, current.Token);
        other ??= (await store.ClaimAsync("test", worker, 1, TimeSpan.FromMinutes(1), Ct)).Single();
        var ledger = new Ledger(store, worker, new StoreGuard(TimeSpan.FromMinutes(1), TimeProvider.System), TimeProvider.System, CancellationToken.None);
        await using (ledger)
        {
            // One commit runs (held) while both marks of the row queue up behind it: they would share the next batch.
            var gate = store.HoldNextCommit();
            var first = ledger.MarkSendingAsync(other.Claimed);
            await store.CommitHeld.WaitAsync(Bound, Ct);
            var staleMark = ledger.MarkSendingAsync(stale.Claimed);
            var currentMark = ledger.MarkSendingAsync(current.Claimed);
            gate.SetResult();

            Assert.Equal(MarkResult.Marked, await first.WaitAsync(Bound, Ct));
            Assert.Equal(MarkResult.Lost, await staleMark.WaitAsync(Bound, Ct));
            Assert.Equal(MarkResult.Marked, await currentMark.WaitAsync(Bound, Ct));
        }

        Assert.Equal(DeliveryState.Sending, harness.StateOf(EngineHarness.Address(0)));
    }
}
