namespace Herald.Store.Tests;

/// <summary>The behaviour every <see cref="IReportStore"/> backend must have. Derive once per backend.</summary>
public abstract class ReportStoreContractTests : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    protected IDeliveryStore Ledger { get; private set; } = null!;

    protected ITrackingStore Tracking { get; private set; } = null!;

    protected IReportStore Reports { get; private set; } = null!;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Fresh, empty, migrated stores over one database.</summary>
    protected abstract Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> CreateStoresAsync();

    /// <summary>The bounce store over the same database, migrated and empty.</summary>
    protected abstract Task<IBounceStore> OpenBouncesAsync();

    /// <summary>A migrated report store over another database whose bounce tables were never created.</summary>
    protected abstract Task<IReportStore> OpenWithoutBounceTablesAsync();

    public async ValueTask InitializeAsync() => (Ledger, Tracking, Reports) = await CreateStoresAsync();

    public virtual async ValueTask DisposeAsync()
    {
        await Reports.DisposeAsync();
        await Tracking.DisposeAsync();
        await Ledger.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static TrackingEvent Event(TrackingEventKind kind, string recipient, double seconds, int link = 0, string campaign = "spring",
        EventFlags flags = EventFlags.None, string? target = null) =>
        new(Guid.CreateVersion7(), T0.AddSeconds(seconds), kind, campaign, recipient, link,
            kind == TrackingEventKind.Click ? target ?? $"https://shop.example.com/p/{link}" : null,
            kind == TrackingEventKind.Unsubscribe ? "POST" : "GET", "Mozilla/5.0 (test)", "203.0.113.0/24", flags);

    /// <summary>Plans r1..rN, then sends, fails and skips as asked (by index, 1-based).</summary>
    protected async Task SeedPlanAsync(string campaign, int recipients, int[] sent, (int Index, int Code, string Text)[] failed, (int Index, string Reason)[] skipped)
    {
        await using (var writer = await Ledger.BeginPlanAsync(campaign, "f1", Ct))
        {
            var entries = Enumerable.Range(1, recipients).Select(i =>
                new PlanEntry($"r{i}", $"r{i}@shop.example.com", "{}"u8.ToArray(), skipped.FirstOrDefault(s => s.Index == i).Reason, $"<r{i}@test>")).ToList();
            await writer.AddAsync(entries, Ct);
            await writer.CommitAsync(Ct);
        }

        await Ledger.RecoverAsync(campaign, "w1", Ct);
        var claimed = (await Ledger.ClaimAsync(campaign, "w1", recipients, TimeSpan.FromMinutes(5), Ct)).ToDictionary(c => c.RecipientId);
        var touched = sent.Concat(failed.Select(f => f.Index)).Select(i => claimed[$"r{i}"]).ToList();
        await Ledger.CommitAsync("w1", [.. touched.Select(c => c.Claimed)], [], Ct);
        var outcomes = sent.Select(i => new Outcome(claimed[$"r{i}"].Id, claimed[$"r{i}"].Token, DeliveryState.Sent, 250, "2.0.0 ok", "relay"))
            .Concat(failed.Select(f => new Outcome(claimed[$"r{f.Index}"].Id, claimed[$"r{f.Index}"].Token, DeliveryState.Failed, f.Code, f.Text, "relay")))
            .ToList();
        await Ledger.CommitAsync("w1", [], outcomes, Ct);
        await Ledger.ReleaseAsync("w1", [.. claimed.Values.Except(touched).Select(c => c.Claimed)], Ct);
    }

    [Fact]
    public async Task Delivery_facts_count_states_group_failures_and_skips()
    {
        await SeedPlanAsync("spring", 6, sent: [1, 2], failed: [(3, 550, "5.1.1 unknown user"), (4, 550, "5.1.1 unknown user"), (5, 421, "4.7.0 try later")], skipped: [(6, "suppressed")]);

        var facts = await Reports.GetDeliveryAsync("spring", Ct);

        Assert.NotNull(facts);
        Assert.Equal((6L, 2L, 3L, 1L, 0L), (facts.Total, facts.Sent, facts.Failed, facts.Skipped, facts.Pending));
        Assert.Equal([new FailureCount(550, "5.1.1 unknown user", 2), new FailureCount(421, "4.7.0 try later", 1)], facts.FailedByCode);
        Assert.Equal(1, facts.SkippedByReason["suppressed"]);
        Assert.Null(await Reports.GetDeliveryAsync("unknown", Ct));
        var delivered = await ListAsync(Reports.ReadDeliveredAsync("spring", 0, 1, Ct));
        Assert.Equal(["r1", "r2"], delivered.Select(d => d.RecipientId).Order(StringComparer.Ordinal));
        var ledger = await ListAsync(Reports.ReadLedgerAsync("spring", details: false, Ct));
        Assert.Equal(ledger.Where(l => l.State == DeliveryState.Sent).ToDictionary(l => l.RecipientId, l => l.UpdatedAt), delivered.ToDictionary(d => d.RecipientId, d => d.At));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public async Task The_parts_of_the_delivered_rows_hold_each_sent_row_once_in_plan_order(int parts)
    {
        int[] sent = [1, 2, 4, 5, 7, 9, 10, 12, 13, 15, 16, 17];
        await SeedPlanAsync("spring", 18, sent, failed: [(3, 550, "5.1.1 unknown user")], skipped: [(6, "suppressed")]);

        var whole = await ListAsync(Reports.ReadDeliveredAsync("spring", 0, 1, Ct));
        var split = new List<DeliveredRow>();
        for (var part = 0; part < parts; part++)
        {
            split.AddRange(await ListAsync(Reports.ReadDeliveredAsync("spring", part, parts, Ct)));
        }

        Assert.Equal(sent.Select(i => $"r{i}"), whole.Select(d => d.RecipientId));
        Assert.Equal(whole, split);
        Assert.Empty(await ListAsync(Reports.ReadDeliveredAsync("autumn", 0, parts, Ct)));
    }

    [Fact]
    public async Task Engaged_deliveries_are_the_sent_times_of_the_recipients_with_an_event_in_recipient_order()
    {
        await SeedPlanAsync("spring", 12, sent: [1, 2, 3, 10, 11], failed: [(4, 550, "5.1.1 unknown user")], skipped: [(5, "suppressed")]);
        await SeedPlanAsync("autumn", 3, sent: [1, 2, 3], failed: [], skipped: []);
        await Tracking.AppendEventsAsync(
        [
            Event(TrackingEventKind.Open, "r11", 10), Event(TrackingEventKind.Click, "r10", 20, 1), Event(TrackingEventKind.Open, "r1", 30),
            Event(TrackingEventKind.Unsubscribe, "r1", 40), Event(TrackingEventKind.Open, "r2", 10 * 86_400),
            // Failed, still pending, not in the ledger: no delivery to give.
            Event(TrackingEventKind.Click, "r4", 50, 1), Event(TrackingEventKind.Open, "r6", 60), Event(TrackingEventKind.Open, "ghost", 70),
            Event(TrackingEventKind.Open, "r3", 80, campaign: "autumn"),
        ], Ct);
        var sent = (await ListAsync(Reports.ReadDeliveredAsync("spring", 0, 1, Ct))).ToDictionary(d => d.RecipientId, d => d.At);

        var whole = await ListAsync(Reports.ReadEngagedDeliveriesAsync(new EventWindow("spring"), Ct));
        var window = await ListAsync(Reports.ReadEngagedDeliveriesAsync(new EventWindow("spring", T0, T0.AddDays(1)), Ct));
        var span = await Reports.GetDeliverySpanAsync("spring", Ct);

        Assert.Equal(["r1", "r10", "r11", "r2"], whole.Select(d => d.RecipientId));
        Assert.All(whole, d => Assert.Equal(sent[d.RecipientId], d.At));
        Assert.Equal(["r1", "r10", "r11"], window.Select(d => d.RecipientId));
        Assert.NotNull(span);
        Assert.Equal((sent.Values.Min(), sent.Values.Max()), (span.First, span.Last));
        Assert.Null(await Reports.GetDeliverySpanAsync("winter", Ct));
        Assert.Empty(await ListAsync(Reports.ReadEngagedDeliveriesAsync(new EventWindow("winter"), Ct)));
    }

    [Fact]
    public async Task Ledger_streams_by_recipient_with_state_and_details()
    {
        await SeedPlanAsync("spring", 12, sent: [2, 11], failed: [(3, 550, "no")], skipped: []);

        var rows = new List<LedgerEntry>();
        await foreach (var row in Reports.ReadLedgerAsync("spring", details: true, Ct))
        {
            rows.Add(row);
        }

        Assert.Equal(Enumerable.Range(1, 12).Select(i => $"r{i}").Order(StringComparer.Ordinal), rows.Select(r => r.RecipientId));
        var r11 = rows.Single(r => r.RecipientId == "r11");
        Assert.Equal((DeliveryState.Sent, "r11@shop.example.com", 250), (r11.State, r11.Email, r11.SmtpCode));
        Assert.Equal((DeliveryState.Failed, 550, "no", 1), (rows.Single(r => r.RecipientId == "r3").State, rows.Single(r => r.RecipientId == "r3").SmtpCode,
            rows.Single(r => r.RecipientId == "r3").SmtpText, rows.Single(r => r.RecipientId == "r3").Attempts));
        Assert.Equal(DeliveryState.Pending, rows.Single(r => r.RecipientId == "r1").State);
    }

    [Fact]
    public async Task Open_summaries_are_per_recipient_in_byte_order_within_the_window()
    {
        // Byte order of UTF-8: upper case before lower case, "é" (U+00E9) after "z", the emoji (4 bytes) last.
        string[] ids = ["z", "A", "é", "a", "😀", "b"];
        var events = ids.Select((id, i) => Event(TrackingEventKind.Open, id, 10 + i)).ToList();
        events.Add(Event(TrackingEventKind.Open, "a", 5, flags: EventFlags.AppleMpp));
        events.Add(Event(TrackingEventKind.Open, "a", 50, flags: EventFlags.Head | EventFlags.Scanner));
        events.Add(Event(TrackingEventKind.Open, "a", 3_000));
        events.Add(Event(TrackingEventKind.Open, "a", 1, campaign: "autumn"));
        await Tracking.AppendEventsAsync(events, Ct);

        var all = await ListAsync(Reports.ReadOpenSummariesAsync(new EventWindow("spring"), Ct));
        var early = await ListAsync(Reports.ReadOpenSummariesAsync(new EventWindow("spring", null, T0.AddSeconds(1_000)), Ct));

        Assert.Equal(["A", "a", "b", "z", "é", "😀"], all.Select(o => o.RecipientId));
        Assert.Equal(all.Select(o => o.RecipientId), all.Select(o => o.RecipientId).Order(RecipientOrder.Instance));
        var a = all.Single(o => o.RecipientId == "a");
        Assert.Equal((4L, 2L, T0.AddSeconds(5), T0.AddSeconds(13), 1L, 1L, 1L), (a.Opens, a.Unflagged, a.FirstAt, a.FirstUnflaggedAt, a.Head, a.Scanner, a.AppleMpp));
        Assert.Equal(3, early.Single(o => o.RecipientId == "a").Opens);
    }

    [Fact]
    public async Task Heavy_clickers_are_counted_and_left_out_of_the_click_stream()
    {
        var events = Enumerable.Range(0, 40).Select(i => Event(TrackingEventKind.Click, "flood", i * 0.01, link: 1 + (i % 2), flags: i < 5 ? EventFlags.Head : EventFlags.None)).ToList();
        events.Add(Event(TrackingEventKind.Click, "person", 100, link: 2));
        events.Add(Event(TrackingEventKind.Click, "person", 90, link: 1));
        events.Add(Event(TrackingEventKind.Click, "other", 95, link: 1));
        await Tracking.AppendEventsAsync(events, Ct);

        var heavy = await Reports.FindHeavyClickersAsync(new EventWindow("spring"), maxClicks: 10, Ct);
        var stream = await ListAsync(Reports.ReadClicksAsync(new EventWindow("spring"), [.. heavy.Select(h => h.RecipientId)], new HashSet<int> { 2 }, Ct));

        var flood = Assert.Single(heavy);
        Assert.Equal(("flood", 40L, T0, 5L), (flood.RecipientId, flood.Count, flood.FirstAt, flood.Head));
        Assert.Equal(["other@95", "person@90", "person@100"], stream.Select(c => $"{c.RecipientId}@{(c.At - T0).TotalSeconds}"));
        Assert.Null(stream[1].Target);
        Assert.Equal("https://shop.example.com/p/2", stream[2].Target);
    }

    [Fact]
    public async Task Click_stream_without_a_link_list_carries_every_target()
    {
        await Tracking.AppendEventsAsync([Event(TrackingEventKind.Click, "r1", 1, link: 3, target: "https://shop.example.com/kitchen/item-1")], Ct);

        var stream = await ListAsync(Reports.ReadClicksAsync(new EventWindow("spring"), [], null, Ct));

        Assert.Equal("https://shop.example.com/kitchen/item-1", Assert.Single(stream).Target);
    }

    [Fact]
    public async Task Clicks_of_given_recipients_are_counted_by_link_and_personalized_target()
    {
        await Tracking.AppendEventsAsync(
        [
            Event(TrackingEventKind.Click, "bot", 1, link: 1),
            Event(TrackingEventKind.Click, "bot", 2, link: 1),
            Event(TrackingEventKind.Click, "bot", 3, link: 2, target: "https://shop.example.com/kitchen/item-1"),
            Event(TrackingEventKind.Click, "bot", 4, link: 2, target: "https://shop.example.com/garden/item-1"),
            Event(TrackingEventKind.Click, "bot", 5, link: 2, target: "https://shop.example.com/garden/item-1"),
            Event(TrackingEventKind.Click, "person", 5, link: 1),
        ], Ct);

        var counts = await Reports.CountClicksByLinkAsync(new EventWindow("spring"), ["bot"], new HashSet<int> { 2 }, Ct);

        Assert.Equal(
            ["bot|1||2", "bot|2|https://shop.example.com/garden/item-1|2", "bot|2|https://shop.example.com/kitchen/item-1|1"],
            counts.Select(c => $"{c.RecipientId}|{c.LinkNumber}|{c.Target}|{c.Clicks}").Order(StringComparer.Ordinal));
        Assert.Empty(await Reports.CountClicksByLinkAsync(new EventWindow("spring"), [], null, Ct));
    }

    [Fact]
    public async Task Unsubscribes_are_one_row_per_recipient()
    {
        await Tracking.AppendEventsAsync(
        [
            Event(TrackingEventKind.Unsubscribe, "r2", 30),
            Event(TrackingEventKind.Unsubscribe, "r2", 20),
            Event(TrackingEventKind.Unsubscribe, "r1", 40),
        ], Ct);

        var rows = await ListAsync(Reports.ReadUnsubscribesAsync(new EventWindow("spring"), Ct));

        Assert.Equal([new UnsubscribeRow("r1", T0.AddSeconds(40), 1), new UnsubscribeRow("r2", T0.AddSeconds(20), 2)], rows);
    }

    [Fact]
    public async Task Buckets_count_events_and_unflagged_ones_in_half_open_ranges()
    {
        await Tracking.AppendEventsAsync(
        [
            Event(TrackingEventKind.Open, "r1", 0),
            Event(TrackingEventKind.Open, "r2", 59.9, flags: EventFlags.AppleMpp),
            Event(TrackingEventKind.Open, "r3", 60),
            Event(TrackingEventKind.Open, "r3", 200),
            Event(TrackingEventKind.Click, "r3", 61, link: 1),
        ], Ct);
        IReadOnlyList<DateTimeOffset> edges = [T0, T0.AddMinutes(1), T0.AddMinutes(2), T0.AddMinutes(3)];

        var opens = await Reports.CountByBucketAsync(new EventWindow("spring"), TrackingEventKind.Open, edges, null, Ct);
        var r3 = await Reports.CountByBucketAsync(new EventWindow("spring"), TrackingEventKind.Open, edges, ["r3"], Ct);
        var clipped = await Reports.CountByBucketAsync(new EventWindow("spring", T0.AddSeconds(30)), TrackingEventKind.Open, edges, null, Ct);

        Assert.Equal([new BucketCount(2, 1), new BucketCount(1, 1), new BucketCount(0, 0)], opens);
        Assert.Equal([new BucketCount(0, 0), new BucketCount(1, 1), new BucketCount(0, 0)], r3);
        Assert.Equal(new BucketCount(1, 0), clipped[0]);
        Assert.Empty(await Reports.CountByBucketAsync(new EventWindow("spring"), TrackingEventKind.Open, [T0], null, Ct));
    }

    [Fact]
    public async Task Event_span_covers_every_kind_and_is_null_without_events()
    {
        await Tracking.AppendEventsAsync(
        [
            Event(TrackingEventKind.Open, "r1", 10),
            Event(TrackingEventKind.Click, "r1", 5, link: 1),
            Event(TrackingEventKind.Unsubscribe, "r1", 99),
        ], Ct);

        Assert.Equal(new EventSpan(T0.AddSeconds(5), T0.AddSeconds(99)), await Reports.GetEventSpanAsync(new EventWindow("spring"), Ct));
        Assert.Equal(new EventSpan(T0.AddSeconds(10), T0.AddSeconds(10)), await Reports.GetEventSpanAsync(new EventWindow("spring", T0.AddSeconds(6), T0.AddSeconds(50)), Ct));
        Assert.Null(await Reports.GetEventSpanAsync(new EventWindow("autumn"), Ct));
    }

    [Fact]
    public async Task Events_by_time_carry_every_field_oldest_first()
    {
        var click = Event(TrackingEventKind.Click, "r2", 2, link: 4, flags: EventFlags.Scanner);
        var open = Event(TrackingEventKind.Open, "r1", 3);
        var unsubscribe = Event(TrackingEventKind.Unsubscribe, "r1", 1);
        await Tracking.AppendEventsAsync([open, click, unsubscribe, Event(TrackingEventKind.Open, "x", 2, campaign: "autumn")], Ct);

        var all = await ListAsync(Reports.ReadEventsByTimeAsync(new EventWindow("spring"), Ct));
        var since = await ListAsync(Reports.ReadEventsByTimeAsync(new EventWindow("spring", T0.AddSeconds(2)), Ct));

        Assert.Equal([unsubscribe, click, open], all);
        Assert.Equal([click, open], since);
    }

    [Fact]
    public async Task Links_are_saved_replaced_and_read_by_number()
    {
        await Reports.SaveLinksAsync("spring", [new LinkDefinition(2, "{{ p.name }}", null), new LinkDefinition(1, "Shop the sale", "https://shop.example.com/sale")], Ct);
        await Reports.SaveLinksAsync("autumn", [new LinkDefinition(1, "Other", "https://x.example.com")], Ct);

        Assert.Equal([new LinkDefinition(1, "Shop the sale", "https://shop.example.com/sale"), new LinkDefinition(2, "{{ p.name }}", null)], await Reports.GetLinksAsync("spring", Ct));
        await Reports.SaveLinksAsync("spring", [new LinkDefinition(1, "Renamed", "https://shop.example.com/sale")], Ct);
        Assert.Equal([new LinkDefinition(1, "Renamed", "https://shop.example.com/sale")], await Reports.GetLinksAsync("spring", Ct));
        Assert.Empty(await Reports.GetLinksAsync("none", Ct));
    }

    [Fact]
    public async Task Campaign_list_has_planned_and_tracking_only_campaigns_with_counts()
    {
        await SeedPlanAsync("spring", 3, sent: [1, 2], failed: [], skipped: []);
        await Tracking.AppendEventsAsync(
        [
            Event(TrackingEventKind.Open, "r1", 1),
            Event(TrackingEventKind.Open, "r1", 2),
            Event(TrackingEventKind.Click, "r1", 3, link: 1),
            Event(TrackingEventKind.Unsubscribe, "r1", 4),
            Event(TrackingEventKind.Unsubscribe, "r1", 5),
            Event(TrackingEventKind.Open, "x", 9, campaign: "events-only"),
        ], Ct);

        var list = await Reports.ListCampaignsAsync(Ct);

        Assert.Equal(["events-only", "spring"], list.Select(c => c.CampaignId).Order(StringComparer.Ordinal));
        var spring = list.Single(c => c.CampaignId == "spring");
        Assert.Equal((3L, 2L, 2L, 1L, 1L, T0.AddSeconds(5)), (spring.Recipients, spring.Sent, spring.Opens, spring.Clicks, spring.Unsubscribes, spring.LastEventAt));
        Assert.NotNull(spring.PlannedAt);
        Assert.Null(list.Single(c => c.CampaignId == "events-only").PlannedAt);
    }

    [Fact]
    public async Task A_cancelled_token_stops_every_query()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Reports.FindHeavyClickersAsync(new EventWindow("spring"), 1, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ListAsync(Reports.ReadOpenSummariesAsync(new EventWindow("spring"), cancelled.Token)));
    }

    [Fact]
    public async Task Sql_text_in_ids_is_data()
    {
        var nasty = "r1'); DROP TABLE tracking_events; --";
        await Tracking.AppendEventsAsync([Event(TrackingEventKind.Click, nasty, 1, link: 1)], Ct);

        var heavy = await Reports.FindHeavyClickersAsync(new EventWindow("spring"), 0, Ct);
        var counts = await Reports.CountClicksByLinkAsync(new EventWindow("spring"), [nasty], null, Ct);

        Assert.Equal(nasty, Assert.Single(heavy).RecipientId);
        Assert.Equal(1, Assert.Single(counts).Clicks);
    }

    [Fact]
    public async Task Bounces_are_recipients_hard_over_soft_and_complaints_with_every_event_by_recipient()
    {
        await using var bounces = await OpenBouncesAsync();
        Assert.Equal(new BounceFacts(0, 0, 0), await Reports.GetBouncesAsync("spring", Ct));

        await bounces.AppendAsync(
        [
            Bounce("r3", 30, BounceType.Soft, "4.2.2"), Bounce("r3", 10, BounceType.Hard, "5.1.1"), Bounce("r3", 20, BounceType.Soft, "4.4.1"),
            Bounce("r1", 10, BounceType.Soft, "4.2.2"), Bounce("r1", 20, BounceType.Soft, "4.7.1"),
            Bounce("r2", 10, BounceType.Complaint, null), Bounce("R0", 10, BounceType.Hard, "5.1.1"),
            Bounce("r4", 40, BounceType.Hard, "5.1.1", campaign: "autumn"),
        ], Ct);

        var facts = await Reports.GetBouncesAsync("spring", Ct);
        Assert.Equal(new BounceFacts(Hard: 2, Soft: 1, Complaints: 1), facts);
        Assert.Equal(3, facts.Bounced);
        var rows = await ListAsync(Reports.ReadBouncesAsync("spring", Ct));
        Assert.Equal(["R0", "r1", "r1", "r2", "r3", "r3", "r3"], rows.Select(r => r.RecipientId));
        Assert.Equal(["5.1.1", "4.4.1", "4.2.2"], rows.Where(r => r.RecipientId == "r3").Select(r => r.Code));
        Assert.Equal((BounceType.Complaint, (string?)null), (rows[3].Type, rows[3].Code));
        Assert.Empty(await ListAsync(Reports.ReadBouncesAsync("unknown", Ct)));
    }

    [Fact]
    public async Task A_store_without_bounce_tables_has_no_bounces()
    {
        await using var reports = await OpenWithoutBounceTablesAsync();

        Assert.Equal(new BounceFacts(0, 0, 0), await reports.GetBouncesAsync("spring", Ct));
        Assert.Empty(await ListAsync(reports.ReadBouncesAsync("spring", Ct)));
    }

    private static BounceEvent Bounce(string recipient, double seconds, BounceType type, string? code, string campaign = "spring") =>
        new(Guid.CreateVersion7(), T0.AddSeconds(seconds), campaign, recipient, $"{recipient}@shop.example.com", type, code, "diagnostic", BounceSource.Dsn);

    protected static async Task<List<T>> ListAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }
}
