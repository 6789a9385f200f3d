using Herald.Tracking;

namespace Herald.Store.Tests;

/// <summary>The report built from a real store, on every backend: the numbers, the bot rules, the links, the timeline.</summary>
public abstract partial class CampaignReportBuilderTests : IAsyncLifetime
{
    private IDeliveryStore _ledger = null!;
    private ITrackingStore _tracking = null!;
    private IReportStore _reports = null!;
    private Dictionary<string, DateTimeOffset> _delivered = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Fresh, empty, migrated stores over one database.</summary>
    protected abstract Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> CreateStoresAsync();

    public async ValueTask InitializeAsync() => (_ledger, _tracking, _reports) = await CreateStoresAsync();

    public virtual async ValueTask DisposeAsync()
    {
        await _reports.DisposeAsync();
        await _tracking.DisposeAsync();
        await _ledger.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Personalized_links_are_counted_per_target_under_their_label()
    {
        // The case: one link of a product loop went to kitchen/item-1 once and to garden/item-1 twice.
        await SeedAsync(3);
        await _reports.SaveLinksAsync("spring", [new LinkDefinition(1, "Shop the sale", "https://shop.example.com/sale"), new LinkDefinition(2, "{{ p.name }}", null)], Ct);
        await AppendAsync(
            Click("r1", 600, 2, "https://shop.example.com/kitchen/item-1"),
            Click("r2", 700, 2, "https://shop.example.com/garden/item-1"),
            Click("r3", 800, 2, "https://shop.example.com/garden/item-1"),
            Click("r3", 900, 1, "https://shop.example.com/sale"));

        var report = await BuildAsync();

        var products = report.Links.Single(l => l.LinkNumber == 2);
        Assert.Equal(("{{ p.name }}", true, null, 3L, 3L), (products.Label, products.Personalized, products.Url, products.Clicks, products.UniqueClicks));
        Assert.Equal(
            [new TargetStats("https://shop.example.com/garden/item-1", 2, 2, 2, 2), new TargetStats("https://shop.example.com/kitchen/item-1", 1, 1, 1, 1)],
            products.Targets);
        var sale = report.Links.Single(l => l.LinkNumber == 1);
        Assert.Equal(("Shop the sale", "https://shop.example.com/sale", 1L), (sale.Label, sale.Url, sale.Clicks));
        Assert.Empty(sale.Targets);
    }

    [Fact]
    public async Task A_flooding_recipient_is_a_bot_as_a_whole_and_counted_not_examined()
    {
        await SeedAsync(3);
        var flood = Enumerable.Range(0, 5_000).Select(i => Click("r1", 3_600 + (i * 0.01), 1 + (i % 3))).ToArray();
        await AppendAsync(flood);
        await AppendAsync(Open("r1", 3_000), Click("r2", 4_000, 1), Open("r2", 3_900));

        var report = await BuildAsync(new EngagementOptions { MaxEventsPerRecipient = 1_000 });

        Assert.Equal((5_001L, 2L), (report.Raw.Clicks, report.Raw.UniqueClicks));
        Assert.Equal((1L, 1L), (report.Human.Clicks, report.Human.UniqueClicks));
        Assert.Equal((2L, 1L), (report.Raw.UniqueOpens, report.Human.UniqueOpens));
        Assert.Equal((1L, 5_001L), (report.Bots.VolumeRecipients, report.Bots.VolumeEvents));
        Assert.Equal(0, report.BotFlags["click_burst"]);
        Assert.Equal(5_000 + 1, report.Links.Sum(l => l.Clicks));
        Assert.Equal(2, report.Links.Single(l => l.LinkNumber == 1).UniqueClicks);
        Assert.Equal(5_001, report.Timeline.Sum(p => p.Clicks));
        Assert.Equal(1, report.Timeline.Sum(p => p.HumanClicks));
        Assert.Equal(1, report.Timeline.Sum(p => p.HumanOpens));
    }

    [Fact]
    public async Task Scanners_on_arrival_and_bursts_are_not_human_but_a_later_click_of_the_same_person_is()
    {
        await SeedAsync(2);
        var at = _delivered["r1"];
        await AppendAsync(
            // A security gateway follows every link on arrival…
            Click("r1", at, 2, 1), Click("r1", at, 2.2, 2), Click("r1", at, 2.4, 3),
            // …a burst later on (another scanner pass)…
            Click("r1", at, 4_000, 1), Click("r1", at, 4_001, 2), Click("r1", at, 4_002, 3),
            // …and the person, an hour after delivery.
            Click("r1", at, 3_600, 2),
            Click("r2", _delivered["r2"], 30, 1, EventFlags.Scanner));

        var report = await BuildAsync();

        Assert.Equal((8L, 2L, 1L, 1L), (report.Raw.Clicks, report.Raw.UniqueClicks, report.Human.Clicks, report.Human.UniqueClicks));
        Assert.Equal(3, report.BotFlags["early_click"]);
        Assert.Equal(6, report.BotFlags["click_burst"]);
        Assert.Equal(1, report.BotFlags["scanner"]);
        Assert.Equal((1L, 1L), (report.Links.Single(l => l.LinkNumber == 2).HumanClicks, report.Links.Single(l => l.LinkNumber == 2).HumanUniqueClicks));
        Assert.Equal(0, report.Links.Single(l => l.LinkNumber == 1).HumanClicks);
        Assert.Equal(3_600, report.TimeToFirstClick.Human.MedianSeconds!.Value, 1.0);
        Assert.Equal((2L, 16.0), (report.TimeToFirstClick.Raw.Recipients, Math.Round(report.TimeToFirstClick.Raw.MedianSeconds!.Value)));
    }

    [Fact]
    public async Task Human_numbers_never_exceed_raw_ones_and_unique_counts_are_recipients()
    {
        // Today's table read "Human 37 > Unique 31": it put human clicks (events) beside unique clicks (recipients).
        // Every human count is a subset of its raw count, and every unique count is a count of recipients.
        await SeedAsync(60);
        var random = new Random(5);
        var events = new List<TrackingEvent>();
        for (var i = 0; i < 3_000; i++)
        {
            var r = $"r{random.Next(1, 61)}";
            var flags = random.Next(5) switch { 0 => EventFlags.Scanner, 1 => EventFlags.Head, 2 => EventFlags.AppleMpp, _ => EventFlags.None };
            var seconds = random.Next(0, 3 * 86_400);
            events.Add(random.Next(3) == 0
                ? Open(r, _delivered[r], seconds, flags & ~EventFlags.Head)
                : Click(r, _delivered[r], seconds + (random.NextDouble() * 3), random.Next(1, 6), flags & ~EventFlags.AppleMpp));
        }

        await AppendAsync([.. events]);

        var report = await BuildAsync(new EngagementOptions { MaxEventsPerRecipient = 60 });

        AssertSubset(report.Raw.Opens, report.Human.Opens);
        AssertSubset(report.Raw.Clicks, report.Human.Clicks);
        AssertSubset(report.Raw.UniqueOpens, report.Human.UniqueOpens);
        AssertSubset(report.Raw.UniqueClicks, report.Human.UniqueClicks);
        Assert.Equal(events.Where(e => e.Kind == TrackingEventKind.Click).Select(e => e.RecipientId).Distinct().Count(), report.Raw.UniqueClicks);
        Assert.Equal(events.Where(e => e.Kind == TrackingEventKind.Open).Select(e => e.RecipientId).Distinct().Count(), report.Raw.UniqueOpens);
        foreach (var link in report.Links)
        {
            AssertSubset(link.Clicks, link.HumanClicks);
            AssertSubset(link.UniqueClicks, link.HumanUniqueClicks);
            AssertSubset(link.Clicks, link.UniqueClicks);
            AssertSubset(link.HumanClicks, link.HumanUniqueClicks);
            AssertSubset(report.Human.UniqueClicks, link.HumanUniqueClicks);
        }

        foreach (var point in report.Timeline)
        {
            AssertSubset(point.Opens, point.HumanOpens);
            AssertSubset(point.Clicks, point.HumanClicks);
        }

        Assert.Equal(report.Raw.Opens, report.Timeline.Sum(p => p.Opens));
        Assert.Equal(report.Human.Opens, report.Timeline.Sum(p => p.HumanOpens));
        Assert.Equal(report.Human.Clicks, report.Timeline.Sum(p => p.HumanClicks));
        Assert.Equal(report.Human.Clicks, report.Links.Sum(l => l.HumanClicks));
        Assert.All(report.Rates.Where(r => r.Name == "click_to_open_rate"), r => Assert.InRange(r.Human!.Value, 0, 1));

        static void AssertSubset(long whole, long part) => Assert.True(part <= whole, $"{part} > {whole}");
    }

    [Fact]
    public async Task Rates_state_their_numerators_and_denominators_and_bounce_rates_read_zero_without_bounces()
    {
        await SeedAsync(4, failed: [4]);
        await AppendAsync(Open("r1", 60), Open("r2", 60, EventFlags.AppleMpp), Click("r1", 120, 1), Unsubscribe("r2", 200));

        var report = await BuildAsync();

        var rates = report.Rates.ToDictionary(r => r.Name);
        Assert.Equal(["delivery_rate", "open_rate", "click_through_rate", "click_to_open_rate", "unsubscribe_rate", "bounce_rate", "hard_bounce_rate", "soft_bounce_rate", "complaint_rate"],
            report.Rates.Select(r => r.Name));
        Assert.Equal((3L, 4L, 0.75), (rates["delivery_rate"].RawNumerator, rates["delivery_rate"].RawDenominator, rates["delivery_rate"].Raw!.Value));
        Assert.Equal((2L, 1L, 3L), (rates["open_rate"].RawNumerator, rates["open_rate"].HumanNumerator, rates["open_rate"].RawDenominator));
        Assert.Equal("sent", rates["open_rate"].Denominator);
        Assert.Equal(1.0 / 3, report.HumanRates["click_through_rate"]!.Value, 6);
        Assert.Equal((1L, 1L), (rates["click_to_open_rate"].HumanNumerator, rates["click_to_open_rate"].HumanDenominator));
        Assert.Equal(1.0 / 3, report.RawRates["unsubscribe_rate"]!.Value, 6);
        Assert.Equal((0.0, 0L, 4L), (report.RawRates["bounce_rate"]!.Value, rates["bounce_rate"].RawNumerator, rates["bounce_rate"].RawDenominator));
        Assert.Equal((0L, 3L), (rates["complaint_rate"].RawNumerator, rates["complaint_rate"].RawDenominator));
        Assert.Equal(new BounceFacts(0, 0, 0), report.Delivery.Bounces);
    }

    [Fact]
    public async Task The_first_hour_after_the_send_is_a_minute_by_minute_timeline()
    {
        await SeedAsync(2);
        var start = _delivered["r1"];
        await AppendAsync(Open("r1", start, 30), Open("r1", start, 90), Open("r2", start, 150), Click("r2", start, 155, 1), Open("r2", start, 4 * 86_400));

        var report = await BuildAsync();

        var firstHour = report.Timeline.TakeWhile(p => p.Start < report.Timeline[0].Start.AddHours(1)).ToList();
        Assert.Equal(60, firstHour.Count);
        Assert.All(firstHour, p => Assert.Equal(60, p.Seconds));
        // One open a minute for three minutes: three dots, not one.
        Assert.Equal(3, firstHour.Take(4).Count(p => p.Opens == 1));
        Assert.Equal(6 * 3_600, report.Timeline[^1].Seconds);
        Assert.Equal(4, report.Timeline.Sum(p => p.Opens));
        Assert.True(report.Timeline.Count < 300);
        Assert.Equal(2, report.TimeToFirstOpen.Raw.Recipients);
        Assert.Equal(90, report.TimeToFirstOpen.Raw.MedianSeconds!.Value, 1.0);
    }

    [Fact]
    public async Task A_date_range_keeps_only_its_events()
    {
        await SeedAsync(2);
        var start = _delivered["r1"];
        await AppendAsync(Open("r1", start, 60), Open("r2", start, 7_200), Click("r2", start, 7_300, 1));

        var report = await BuildAsync(window: new EventWindow("spring", start.AddHours(1), start.AddHours(3)));

        Assert.Equal((1L, 1L, 1L), (report.Raw.Opens, report.Raw.UniqueOpens, report.Raw.Clicks));
        Assert.Equal(start.AddHours(1), report.Range.From);
        Assert.Equal(2, report.Delivery.Sent);
    }

    [Fact]
    public async Task A_campaign_without_events_or_plan_gives_zeros_and_null_rates()
    {
        var report = await BuildAsync();

        Assert.Equal(new EngagementCounts(0, 0, 0, 0, 0, 0), report.Raw);
        Assert.All(report.RawRates.Values, v => Assert.Null(v));
        Assert.Empty(report.Timeline);
        Assert.Null(report.TimeToFirstOpen.Raw.MedianSeconds);
    }

    private Task<CampaignReport> BuildAsync(EngagementOptions? options = null, EventWindow? window = null) =>
        CampaignReportBuilder.BuildAsync(_reports, window ?? new EventWindow("spring"), options, null, null, Ct);

    private async Task SeedAsync(int recipients, int[]? failed = null)
    {
        failed ??= [];
        await using (var writer = await _ledger.BeginPlanAsync("spring", "f1", Ct))
        {
            await writer.AddAsync([.. Enumerable.Range(1, recipients).Select(i => new PlanEntry($"r{i}", $"r{i}@shop.example.com", "{}"u8.ToArray(), null, $"<r{i}@t>"))], Ct);
            await writer.CommitAsync(Ct);
        }

        await _ledger.RecoverAsync("spring", "w1", Ct);
        var claimed = await _ledger.ClaimAsync("spring", "w1", recipients, TimeSpan.FromMinutes(5), Ct);
        await _ledger.CommitAsync("w1", [.. claimed.Select(c => c.Claimed)], [], Ct);
        await _ledger.CommitAsync("w1", [], [.. claimed.Select(c => failed.Contains(int.Parse(c.RecipientId[1..], System.Globalization.CultureInfo.InvariantCulture))
            ? new Outcome(c.Id, c.Token, DeliveryState.Failed, 550, "5.1.1 no", "relay")
            : new Outcome(c.Id, c.Token, DeliveryState.Sent, 250, "ok", "relay"))], Ct);
        _delivered = [];
        await foreach (var row in _reports.ReadLedgerAsync("spring", false, Ct))
        {
            _delivered[row.RecipientId] = row.UpdatedAt;
        }
    }

    private protected Task<int> AppendAsync(params TrackingEvent[] events) => _tracking.AppendEventsAsync(events, Ct);

    private TrackingEvent Open(string r, double secondsAfterDelivery, EventFlags flags = EventFlags.None) => Open(r, _delivered[r], secondsAfterDelivery, flags);

    private static TrackingEvent Open(string r, DateTimeOffset delivered, double seconds, EventFlags flags = EventFlags.None) =>
        new(Guid.CreateVersion7(), delivered.AddSeconds(seconds), TrackingEventKind.Open, "spring", r, 0, null, "GET", "Mozilla/5.0 (X11)", "203.0.113.0/24", flags);

    private TrackingEvent Click(string r, double secondsAfterDelivery, int link, string? target = null) =>
        Click(r, _delivered[r], secondsAfterDelivery, link, EventFlags.None, target);

    private static TrackingEvent Click(string r, DateTimeOffset delivered, double seconds, int link, EventFlags flags = EventFlags.None, string? target = null) =>
        new(Guid.CreateVersion7(), delivered.AddSeconds(seconds), TrackingEventKind.Click, "spring", r, link, target ?? $"https://shop.example.com/{link}",
            flags.HasFlag(EventFlags.Head) ? "HEAD" : "GET", "Mozilla/5.0 (X11)", "203.0.113.0/24", flags);

    private TrackingEvent Unsubscribe(string r, double seconds) =>
        new(Guid.CreateVersion7(), _delivered[r].AddSeconds(seconds), TrackingEventKind.Unsubscribe, "spring", r, 0, null, "POST", "Mozilla/5.0 (X11)", "203.0.113.0/24", EventFlags.None);
}
