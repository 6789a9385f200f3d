namespace Herald.Store.Tests;

/// <summary>What the relay guards and <c>herald retry --failed</c> need from the ledger.</summary>
public abstract partial class DeliveryStoreContractTests
{
    [Fact]
    public async Task An_uncounted_retry_gives_the_attempt_back_and_forgets_the_first_attempt_time()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        await Store.CommitAsync("w1", [item.Claimed], [], Ct);
        var now = (await Store.GetNextWorkAsync("c1", "w1", Ct)).Now;

        var result = await Store.CommitAsync("w1", [],
            [new Outcome(item.Id, item.Token, DeliveryState.Pending, 530, "530 5.7.0 Authentication required", "smtp-1", now, Uncounted: true)], Ct);

        Assert.Empty(result.Lost);
        var again = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        Assert.Equal((0, (DateTimeOffset?)null), (again.Attempts, again.FirstAttemptAt));
        var record = Assert.Single(await ReadAllAsync(Store, "c1"));
        Assert.Equal((DeliveryState.Pending, 530, "530 5.7.0 Authentication required", "smtp-1"), (record.State, record.SmtpCode, record.SmtpText, record.Relay));

        // A counted attempt after an uncounted one keeps its own count and time.
        await Store.CommitAsync("w1", [again.Claimed], [], Ct);
        await Store.CommitAsync("w1", [], [new Outcome(again.Id, again.Token, DeliveryState.Pending, 451, "451 4.3.0 later", "smtp-1", now)], Ct);
        var third = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        Assert.Equal(1, third.Attempts);
        Assert.NotNull(third.FirstAttemptAt);
    }

    [Fact]
    public async Task Uncounted_applies_only_to_a_retry()
    {
        await PlanAsync(Store, "c1", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var item = Assert.Single(await Store.ClaimAsync("c1", "w1", 1, LongLease, Ct));
        await Store.CommitAsync("w1", [item.Claimed], [], Ct);

        await Store.CommitAsync("w1", [], [new Outcome(item.Id, item.Token, DeliveryState.Failed, 550, "550 5.1.1 no such user", "smtp-1", Uncounted: true)], Ct);

        var record = Assert.Single(await ReadAllAsync(Store, "c1"));
        Assert.Equal((DeliveryState.Failed, 1), (record.State, record.Attempts));
    }

    [Fact]
    public async Task Reset_failed_makes_matching_failed_rows_pending_with_attempts_reset_and_leaves_the_rest()
    {
        await PlanAsync(Store, "c1", pending: 4);
        await PlanAsync(Store, "c2", pending: 1);
        await StartAsync(Store, "c1", "w1");
        var items = await Store.ClaimAsync("c1", "w1", 4, LongLease, Ct);
        await Store.CommitAsync("w1", items.Select(i => i.Claimed).ToList(), [], Ct);
        await Store.CommitAsync("w1", [], [
            new Outcome(items[0].Id, items[0].Token, DeliveryState.Failed, 530, "530 5.7.0 Authentication required", "smtp-1"),
            new Outcome(items[1].Id, items[1].Token, DeliveryState.Failed, 550, "550 5.1.1 no such user", "smtp-1"),
            new Outcome(items[2].Id, items[2].Token, DeliveryState.Sent, 250, "250 ok", "smtp-1"),
            new Outcome(items[3].Id, items[3].Token, DeliveryState.Failed, null, "gave up after 5 attempts: connection lost", "smtp-1"),
        ], Ct);
        var seen = new List<(int?, string?)>();

        var reset = await Store.ResetFailedAsync("c1", (code, text) =>
        {
            seen.Add((code, text));
            return code == 530 || code is null;
        }, Ct);

        Assert.Equal(2, reset);
        Assert.Equal(3, seen.Count);
        Assert.Contains((550, "550 5.1.1 no such user"), seen);
        var counts = await Store.GetCountsAsync("c1", Ct);
        Assert.Equal((2L, 1L, 1L), (counts.Pending, counts.Failed, counts.Sent));
        var again = await Store.ClaimAsync("c1", "w1", 10, LongLease, Ct);
        Assert.Equal(["r0", "r3"], again.Select(i => i.RecipientId));
        Assert.All(again, i => Assert.Equal((0, (DateTimeOffset?)null), (i.Attempts, i.FirstAttemptAt)));
        Assert.Equal(1, (await Store.GetCountsAsync("c2", Ct)).Pending);
        Assert.Equal(0, await Store.ResetFailedAsync("c1", (_, _) => false, Ct));
    }
}
