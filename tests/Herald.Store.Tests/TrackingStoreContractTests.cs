
namespace Herald.Store.Tests;

/// <summary>The behaviour every <see cref="ITrackingStore"/> backend must have. Derive once per backend.</summary>
public abstract class TrackingStoreContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    protected ITrackingStore Store { get; private set; } = null!;

    /// <summary>A fresh, empty, migrated store.</summary>
    protected abstract Task<ITrackingStore> CreateStoreAsync();

    /// <summary>Writes a ledger row (campaign, recipient, address) in the same store, so unsubscribes can be resolved.</summary>
    protected abstract Task SeedLedgerAsync(string campaignId, string recipientId, string email);

    public async ValueTask InitializeAsync() => Store = await CreateStoreAsync();

    public virtual async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static TrackingEvent Event(TrackingEventKind kind, string recipient, int secondsAfter, int link = 0, string campaign = "spring",
        EventFlags flags = EventFlags.None, string? email = null) =>
        new(Guid.CreateVersion7(), T0.AddSeconds(secondsAfter), kind, campaign, recipient, link,
            kind == TrackingEventKind.Click ? $"https://shop.example.com/p/{link}" : null,
            "GET", "Mozilla/5.0 (test)", "203.0.113.0/24", flags, email);

    [Fact]
    public async Task Append_then_read_round_trips_every_field()
    {
        var click = Event(TrackingEventKind.Click, "r1", 5, link: 2, flags: EventFlags.Scanner | EventFlags.Head);

        var added = await Store.AppendEventsAsync([click], TestContext.Current.CancellationToken);

        Assert.Equal(1, added);
        var read = await ReadAllAsync("spring");
        Assert.Equal([click], read);
    }

    [Fact]
    public async Task Append_is_idempotent_per_event_id()
    {
        var events = new[] { Event(TrackingEventKind.Open, "r1", 1), Event(TrackingEventKind.Click, "r1", 2, link: 1) };
        await Store.AppendEventsAsync(events, TestContext.Current.CancellationToken);

        var again = await Store.AppendEventsAsync([events[1], Event(TrackingEventKind.Open, "r2", 3)], TestContext.Current.CancellationToken);

        Assert.Equal(1, again);
        var counts = await Store.GetEventCountsAsync("spring", TestContext.Current.CancellationToken);
        Assert.Equal(new EventCounts(2, 1, 0), counts);
    }

    [Fact]
    public async Task Read_orders_by_recipient_then_time_and_keeps_campaigns_apart()
    {
        await Store.AppendEventsAsync(
        [
            Event(TrackingEventKind.Click, "r2", 9, link: 1),
            Event(TrackingEventKind.Open, "r1", 8),
            Event(TrackingEventKind.Open, "r2", 1),
            Event(TrackingEventKind.Open, "r1", 3),
            Event(TrackingEventKind.Open, "x", 3, campaign: "autumn"),
        ], TestContext.Current.CancellationToken);

        var read = await ReadAllAsync("spring");

        Assert.Equal(["r1@3", "r1@8", "r2@1", "r2@9"], read.Select(e => $"{e.RecipientId}@{(e.At - T0).TotalSeconds}"));
        Assert.Equal(["autumn", "spring"], await Store.ListEventCampaignsAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Counts_are_per_kind_and_per_campaign()
    {
        await Store.AppendEventsAsync(
        [
            Event(TrackingEventKind.Open, "r1", 1),
            Event(TrackingEventKind.Click, "r1", 2, link: 1),
            Event(TrackingEventKind.Click, "r1", 3, link: 2),
            Event(TrackingEventKind.Unsubscribe, "r1", 4, email: "r1@shop.example.com"),
            Event(TrackingEventKind.Click, "r1", 3, link: 2, campaign: "autumn"),
        ], TestContext.Current.CancellationToken);

        Assert.Equal(new EventCounts(1, 2, 1), await Store.GetEventCountsAsync("spring", TestContext.Current.CancellationToken));
        Assert.Equal(new EventCounts(0, 0, 0), await Store.GetEventCountsAsync("unknown", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Large_batch_is_appended_in_one_call()
    {
        var events = Enumerable.Range(0, 20_000).Select(i => Event(TrackingEventKind.Click, $"r{i % 500}", i % 60, link: 1 + (i % 4))).ToList();

        var added = await Store.AppendEventsAsync(events, TestContext.Current.CancellationToken);

        Assert.Equal(20_000, added);
        Assert.Equal(20_000, (await Store.GetEventCountsAsync("spring", TestContext.Current.CancellationToken)).Clicks);
    }

    [Fact]
    public async Task Unsubscribe_event_carrying_the_address_suppresses_it()
    {
        await Store.AppendEventsAsync([Event(TrackingEventKind.Unsubscribe, "r1", 1, email: "ann@shop.example.com")], TestContext.Current.CancellationToken);

        var entries = await ListAsync();

        var entry = Assert.Single(entries);
        Assert.Equal(new SuppressionEntry("ann@shop.example.com", SuppressionReason.Unsubscribed, "spring", T0.AddSeconds(1)), entry);
    }

    [Fact]
    public async Task Unsubscribe_event_is_resolved_to_its_address_through_the_ledger()
    {
        await SeedLedgerAsync("spring", "r7", "bob@shop.example.com");

        await Store.AppendEventsAsync([Event(TrackingEventKind.Unsubscribe, "r7", 1)], TestContext.Current.CancellationToken);

        var suppressed = await Store.FindSuppressedAsync(["bob@shop.example.com", "other@shop.example.com"], TestContext.Current.CancellationToken);
        Assert.Equal(["bob@shop.example.com"], suppressed);
    }

    [Fact]
    public async Task Unsubscribe_of_an_unknown_recipient_is_recorded_without_suppressing_anything()
    {
        await Store.AppendEventsAsync([Event(TrackingEventKind.Unsubscribe, "ghost", 1)], TestContext.Current.CancellationToken);

        Assert.Equal(1, (await Store.GetEventCountsAsync("spring", TestContext.Current.CancellationToken)).Unsubscribes);
        Assert.Empty(await ListAsync());
    }

    [Fact]
    public async Task Suppression_keeps_the_first_reason_and_reports_only_new_addresses()
    {
        var first = new SuppressionEntry("ann@shop.example.com", SuppressionReason.Bounced, "spring", T0);
        Assert.Equal(1, await Store.AddSuppressionsAsync([first], TestContext.Current.CancellationToken));

        var added = await Store.AddSuppressionsAsync(
            [first with { Reason = SuppressionReason.Manual, CampaignId = null }, new SuppressionEntry("bob@shop.example.com", SuppressionReason.Complained, null, T0)],
            TestContext.Current.CancellationToken);

        Assert.Equal(1, added);
        var entries = await ListAsync();
        Assert.Equal(["ann@shop.example.com", "bob@shop.example.com"], entries.Select(e => e.Email));
        Assert.Equal(SuppressionReason.Bounced, entries[0].Reason);
        Assert.Equal("spring", entries[0].CampaignId);
    }

    [Fact]
    public async Task Removed_address_is_no_longer_suppressed()
    {
        await Store.AddSuppressionsAsync([new SuppressionEntry("ann@shop.example.com", SuppressionReason.Manual, null, T0)], TestContext.Current.CancellationToken);

        Assert.True(await Store.RemoveSuppressionAsync("ann@shop.example.com", TestContext.Current.CancellationToken));
        Assert.False(await Store.RemoveSuppressionAsync("ann@shop.example.com", TestContext.Current.CancellationToken));
        Assert.Empty(await Store.FindSuppressedAsync(["ann@shop.example.com"], TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Find_suppressed_answers_a_large_batch_in_one_call()
    {
        var suppressed = Enumerable.Range(0, 100).Select(i => new SuppressionEntry($"u{i * 10}@shop.example.com", SuppressionReason.Manual, null, T0)).ToList();
        await Store.AddSuppressionsAsync(suppressed, TestContext.Current.CancellationToken);

        var found = await Store.FindSuppressedAsync(Enumerable.Range(0, 5000).Select(i => $"u{i}@shop.example.com").ToList(), TestContext.Current.CancellationToken);

        Assert.Equal(100, found.Count);
        Assert.Contains("u990@shop.example.com", found);
        Assert.DoesNotContain("u991@shop.example.com", found);
    }

    [Fact]
    public async Task Migrate_is_idempotent_and_keeps_data()
    {
        await Store.AppendEventsAsync([Event(TrackingEventKind.Open, "r1", 1)], TestContext.Current.CancellationToken);

        await Store.MigrateAsync(TestContext.Current.CancellationToken);

        Assert.Equal(1, (await Store.GetEventCountsAsync("spring", TestContext.Current.CancellationToken)).Opens);
    }

    [Fact]
    public async Task Sql_text_in_values_is_stored_verbatim()
    {
        var nasty = "r1'); DROP TABLE tracking_events; --";
        await Store.AppendEventsAsync([Event(TrackingEventKind.Open, nasty, 1)], TestContext.Current.CancellationToken);

        var read = await ReadAllAsync("spring");

        Assert.Equal(nasty, Assert.Single(read).RecipientId);
    }

    private async Task<List<TrackingEvent>> ReadAllAsync(string campaign)
    {
        var list = new List<TrackingEvent>();
        await foreach (var e in Store.ReadEventsAsync(campaign, TestContext.Current.CancellationToken))
        {
            list.Add(e);
        }

        return list;
    }

    private async Task<List<SuppressionEntry>> ListAsync()
    {
        var list = new List<SuppressionEntry>();
        await foreach (var e in Store.ListSuppressionsAsync(TestContext.Current.CancellationToken))
        {
            list.Add(e);
        }

        return list;
    }
}
