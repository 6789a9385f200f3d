using Herald.Store;

namespace Herald.Core.Tests.Store;

/// <summary>What the relay guards and <c>herald retry --failed</c> need from the ledger.</summary>
public abstract partial class DeliveryStoreContractTests
{
    [Fact]
    public async Task An_uncounted_retry_gives_the_attempt_back_and_forgets_the_first_attempt_time()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var item = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        await store.CommitAsync("w1", [item.Id], [], Ct);

        await store.CommitAsync("w1", [], [new Outcome(item.Id, DeliveryState.Pending, 530, "530 5.7.0 Authentication required", "smtp-1", Clock.GetUtcNow(), Uncounted: true)], Ct);

        var again = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        Assert.Equal((0, (DateTimeOffset?)null), (again.Attempts, again.FirstAttemptAt));
        var record = Assert.Single(await ReadAllAsync(store, "c1"));
        Assert.Equal((DeliveryState.Pending, 530, "530 5.7.0 Authentication required", "smtp-1"), (record.State, record.SmtpCode, record.SmtpText, record.Relay));

        // A second, counted attempt after an uncounted one keeps its own count and time.
        await store.CommitAsync("w1", [again.Id], [], Ct);
        await store.CommitAsync("w1", [], [new Outcome(again.Id, DeliveryState.Pending, 451, "451 4.3.0 later", "smtp-1", Clock.GetUtcNow())], Ct);
        var third = Assert.Single(await store.ClaimAsync("c1", "w1", 1, Lease, Ct));
        Assert.Equal(1, third.Attempts);
        Assert.NotNull(third.FirstAttemptAt);
    }

    [Fact]
    public async Task Reset_failed_makes_matching_failed_rows_pending_with_attempts_reset_and_leaves_the_rest()
    {
        await using var store = await CreateStoreAsync();
        await PlanAsync(store, "c1", pending: 4);
        await PlanAsync(store, "c2", pending: 1);
        await store.RecoverAsync("c1", "w1", Ct);
        var items = await store.ClaimAsync("c1", "w1", 4, Lease, Ct);
        await store.CommitAsync("w1", items.Select(i => i.Id).ToList(), [], Ct);
        await store.CommitAsync("w1", [], [
            new Outcome(items[0].Id, DeliveryState.Failed, 530, "530 5.7.0 Authentication required", "smtp-1"),
            new Outcome(items[1].Id, DeliveryState.Failed, 550, "550 5.1.1 no such user", "smtp-1"),
            new Outcome(items[2].Id, DeliveryState.Sent, 250, "250 ok", "smtp-1"),
            new Outcome(items[3].Id, DeliveryState.Failed, null, "gave up after 5 attempts: connection lost", "smtp-1"),
        ], Ct);
        var seen = new List<(int?, string?)>();

        var reset = await store.ResetFailedAsync("c1", (code, text) =>
        {
            seen.Add((code, text));
            return code == 530 || code is null;
        }, Ct);

        Assert.Equal(2, reset);
        Assert.Equal(3, seen.Count);
        Assert.Contains((550, "550 5.1.1 no such user"), seen);
        var counts = await store.GetCountsAsync("c1", Ct);
        Assert.Equal((2L, 1L, 1L), (counts.Pending, counts.Failed, counts.Sent));
        var again = await store.ClaimAsync("c1", "w1", 10, Lease, Ct);
        Assert.Equal(["r0", "r3"], again.Select(i => i.RecipientId));
        Assert.All(again, i => Assert.Equal((0, (DateTimeOffset?)null), (i.Attempts, i.FirstAttemptAt)));
        Assert.Equal(1, (await store.GetCountsAsync("c2", Ct)).Pending);
        Assert.Equal(0, await store.ResetFailedAsync("c1", (_, _) => false, Ct));
    }
}
