using Herald.Tracking;

namespace Herald.Store.Tests;

/// <summary>
/// The full-range report read from the rollups equals the report that scans the events (a date window that holds every
/// event), on every backend: replays add nothing, a store written before the rollups reads the same before and after
/// its upgrade.
/// </summary>
public abstract partial class CampaignReportBuilderTests
{
    private static readonly EngagementOptions RollupOptions = new() { MaxEventsPerRecipient = 100 };

    /// <summary>Runs SQL against the test's database (to take events away behind the store's back).</summary>
    protected abstract Task ExecuteSqlAsync(string sql);

    /// <summary>Puts the store back where a herald without rollups left it: no rollup tables, the schema version before them.</summary>
    protected abstract Task ForgetRollupsAsync();

    /// <summary>Another tracking store over the test's database: a second tracking server.</summary>
    protected abstract ITrackingStore OpenTracking();

    /// <summary>A new report store over the test's database (nothing it learnt about the schema carried over).</summary>
    protected abstract Task<IReportStore> OpenReportsAsync();

    private async Task ReopenReportsAsync()
    {
        await _reports.DisposeAsync();
        _reports = await OpenReportsAsync();
    }

    /// <summary>The upgrade a writing command runs (the tracking store's migration).</summary>
    private protected Task UpgradeAsync() => _tracking.MigrateAsync(Ct);

    /// <summary>The report store the tests build from.</summary>
    private protected IReportStore Reports => _reports;

    [Fact]
    public async Task The_full_range_report_from_the_rollups_equals_the_event_scan()
    {
        var events = await SeedVariedAsync();
        // The serve journal replays: whole batches and batches of old and new events again.
        await AppendAsync([.. events.Take(200)]);
        var late = Open("r7", 9 * 86_400);
        await AppendAsync([.. events.Skip(300).Take(50), late]);

        var (full, scan) = await BuildBothAsync();

        Assert.Equal(ToJson(scan), ToJson(full));
        // The data set is what the test says: each rollup has something to get wrong.
        Assert.Equal(events.Count(e => e.Kind == TrackingEventKind.Click), full.Raw.Clicks);
        Assert.Equal(events.Count(e => e.Kind == TrackingEventKind.Open) + 1, full.Raw.Opens);
        Assert.Equal(3, full.Raw.Unsubscribes);
        Assert.Equal(2, full.Bots.VolumeRecipients);
        Assert.True(full.Links.Single(l => l.LinkNumber == 2).Targets.Count >= 3);
        Assert.True(full.BotFlags["scanner"] > 0 && full.BotFlags["head"] > 0 && full.BotFlags["apple_mpp"] > 0 && full.BotFlags["early_click"] > 0);
        Assert.Contains(full.Timeline, p => p.Seconds == 600);
        Assert.Contains(full.Timeline, p => p.Seconds == 3_600);
    }

    [Fact]
    public async Task The_full_range_report_reads_the_rollups_and_a_date_window_the_events()
    {
        await SeedAsync(3);
        await AppendAsync(Open("r1", 60), Open("r2", 90, EventFlags.AppleMpp), Click("r1", 120, 1), Unsubscribe("r3", 30));

        // Events taken away behind the store's back: only the rollups still know them.
        await ExecuteSqlAsync("DELETE FROM tracking_events WHERE kind = 1");
        var (full, scan) = await BuildBothAsync();

        Assert.Equal((2L, 2L, 1L), (full.Raw.Opens, full.Raw.UniqueOpens, full.Human.UniqueOpens));
        Assert.Equal((0L, 1L), (scan.Raw.Opens, scan.Raw.Clicks));
        Assert.Equal(2, full.Timeline.Sum(p => p.Opens));
    }

    [Fact]
    public async Task A_replayed_event_adds_nothing_to_the_rollups()
    {
        await SeedAsync(2);
        var batch = new[] { Open("r1", 60), Open("r1", 70, EventFlags.AppleMpp), Click("r1", 120, 1), Click("r2", 130, 2), Unsubscribe("r2", 140) };
        await AppendAsync(batch);
        await AppendAsync(batch);
        await AppendAsync([batch[0], batch[2], Click("r2", 400, 2)]);

        var (full, scan) = await BuildBothAsync();

        Assert.Equal(ToJson(scan), ToJson(full));
        Assert.Equal((2L, 3L, 1L), (full.Raw.Opens, full.Raw.Clicks, full.Raw.Unsubscribes));
        Assert.Equal((1L, 2L), (full.Human.Opens, full.Links.Single(l => l.LinkNumber == 2).Clicks));
    }

    [Fact]
    public async Task Two_servers_appending_the_same_events_at_once_count_each_once()
    {
        // Two tracking servers draining one journal: the same events in other batches and orders, at the same time.
        await SeedAsync(30);
        var random = new Random(3);
        var events = Enumerable.Range(0, 3_000).Select(i => i % 2 == 0
            ? Open($"r{1 + random.Next(30)}", 60 + random.Next(600))
            : Click($"r{1 + random.Next(30)}", 60 + random.Next(600), 1 + random.Next(3))).ToList();
        await using var second = OpenTracking();
        var mine = events.Chunk(100).ToList();
        var theirs = events.AsEnumerable().Reverse().Chunk(70).ToList();

        var added = await Task.WhenAll(
            Task.Run(async () => { var n = 0; foreach (var b in mine) { n += await _tracking.AppendEventsAsync(b, Ct); } return n; }, Ct),
            Task.Run(async () => { var n = 0; foreach (var b in theirs) { n += await second.AppendEventsAsync(b, Ct); } return n; }, Ct))
            .WaitAsync(TimeSpan.FromMinutes(2), Ct);

        var (full, scan) = await BuildBothAsync();
        Assert.Equal(events.Count, added.Sum());
        Assert.Equal(ToJson(scan), ToJson(full));
        Assert.Equal((1_500L, 1_500L), (full.Raw.Opens, full.Raw.Clicks));
        Assert.Equal(1_500, full.Timeline.Sum(p => p.Clicks));
    }

    [Fact]
    public async Task A_store_written_before_the_rollups_reports_the_same_after_the_upgrade()
    {
        await SeedVariedAsync();
        var before = await BuildBothAsync();
        await ForgetRollupsAsync();

        // Opened as a read-only report opens it (never migrated): the event scan, the same numbers.
        var old = await BuildBothAsync(fresh: true);
        await UpgradeAsync();
        var upgraded = await BuildBothAsync(fresh: true);
        await AppendAsync(Click("r9", 500, 3), Open("r9", 450));
        var written = await BuildBothAsync(fresh: true);

        Assert.Equal(ToJson(before.Scan), ToJson(before.Full));
        Assert.Equal(ToJson(before.Full), ToJson(old.Full));
        Assert.Equal(ToJson(before.Full), ToJson(upgraded.Full));
        Assert.Equal(ToJson(upgraded.Scan), ToJson(upgraded.Full));
        Assert.Equal(ToJson(written.Scan), ToJson(written.Full));
        Assert.Equal(before.Full.Raw.Clicks + 1, written.Full.Raw.Clicks);
    }

    [Fact]
    public async Task Events_that_come_before_the_ledger_marks_the_recipient_sent_still_get_its_delivery_time()
    {
        // A scanner fetching the links while the relay's reply is still on its way: the rows are `sending` when the
        // events are written, and sent after. The events are timed from now, as the mark will be (an hour on, and a
        // click on arrival).
        await using (var writer = await _ledger.BeginPlanAsync("spring", "f1", Ct))
        {
            await writer.AddAsync([.. Enumerable.Range(1, 3).Select(i => new PlanEntry($"r{i}", $"r{i}@shop.example.com", "{}"u8.ToArray(), null, $"<r{i}@t>"))], Ct);
            await writer.CommitAsync(Ct);
        }

        await _ledger.RecoverAsync("spring", "w1", Ct);
        var claimed = await _ledger.ClaimAsync("spring", "w1", 3, TimeSpan.FromMinutes(5), Ct);
        await _ledger.CommitAsync("w1", [.. claimed.Select(c => c.Claimed)], [], Ct);
        var now = DateTimeOffset.UtcNow;
        await AppendAsync(Open("r1", now, 3_600), Click("r1", now, 2, 1), Open("r2", now, 7_200), Click("r3", now, 5_400, 1));
        await _ledger.CommitAsync("w1", [], [.. claimed.Where(c => c.RecipientId != "r3").Select(c => new Outcome(c.Id, c.Token, DeliveryState.Sent, 250, "ok", "relay"))], Ct);

        var (full, scan) = await BuildBothAsync();

        Assert.Equal(ToJson(scan), ToJson(full));
        // r1 and r2 were sent: their delays are known; r3 is still in flight and has none.
        Assert.Equal(2, full.TimeToFirstOpen.Raw.Recipients);
        Assert.Equal(1, full.TimeToFirstClick.Raw.Recipients);
        Assert.Equal(1, full.BotFlags["early_click"]);
    }

    /// <summary>
    /// Forty recipients over three days (appended unless <paramref name="append"/> is false): flagged and repeated opens, clicks on three links (one personalized, five
    /// targets), early clicks and bursts, a heavy clicker past the threshold, an opens flooder, repeated unsubscribes and
    /// a recipient outside the ledger; appended in several batches.
    /// </summary>
    private protected async Task<List<TrackingEvent>> SeedVariedAsync(bool append = true)
    {
        await SeedAsync(40, failed: [40]);
        await _reports.SaveLinksAsync("spring", [new LinkDefinition(1, "Sale", "https://shop.example.com/1"), new LinkDefinition(2, "{{ p.name }}", null), new LinkDefinition(3, "Help", "https://shop.example.com/3")], Ct);
        var random = new Random(12);
        var events = new List<TrackingEvent>();
        EventFlags[] openFlags = [EventFlags.None, EventFlags.None, EventFlags.AppleMpp, EventFlags.Scanner, EventFlags.Head, EventFlags.Scanner | EventFlags.AppleMpp];
        EventFlags[] clickFlags = [EventFlags.None, EventFlags.None, EventFlags.None, EventFlags.Scanner, EventFlags.Head, EventFlags.Head | EventFlags.Scanner];
        for (var i = 0; i < 800; i++)
        {
            var r = $"r{random.Next(3, 40)}";
            var seconds = random.Next(3) == 0 ? random.Next(0, 7_200) : random.Next(0, 3 * 86_400);
            if (random.Next(2) == 0)
            {
                events.Add(Open(r, _delivered[r], seconds + random.NextDouble(), openFlags[random.Next(openFlags.Length)]));
            }
            else
            {
                var link = random.Next(1, 4);
                var target = link == 2 ? $"https://shop.example.com/item-{random.Next(5)}" : null;
                // A few on arrival (early clicks) and a few bursts across links.
                var at = random.Next(10) == 0 ? random.NextDouble() * 5 : seconds + random.NextDouble();
                events.Add(Click(r, _delivered[r], at, link, clickFlags[random.Next(clickFlags.Length)], target));
                if (random.Next(15) == 0)
                {
                    events.Add(Click(r, _delivered[r], at + 0.5, 1 + (link % 3), EventFlags.None, link == 1 ? "https://shop.example.com/item-4" : null));
                }
            }
        }

        // The heavy clicker: 300 clicks on two links and three targets, counted by the store.
        events.AddRange(Enumerable.Range(0, 300).Select(i => Click("r1", _delivered["r1"], 600 + i, 1 + (i % 2), i % 7 == 0 ? EventFlags.Scanner : EventFlags.None,
            i % 2 == 1 ? $"https://shop.example.com/item-{i % 3}" : null)));
        // The opens flooder: a bot as a whole.
        events.AddRange(Enumerable.Range(0, 150).Select(i => Open("r2", _delivered["r2"], 30 + i, i % 3 == 0 ? EventFlags.AppleMpp : EventFlags.None)));
        events.Add(Unsubscribe("r5", 300));
        events.Add(Unsubscribe("r5", 900));
        events.Add(Unsubscribe("r6", 40));
        events.Add(Unsubscribe("r7", 86_400));
        events.Add(Click("ghost", _delivered["r3"], 100, 3));
        for (var start = 0; append && start < events.Count; start += 137)
        {
            await AppendAsync([.. events.Skip(start).Take(137)]);
        }

        return events;
    }

    /// <summary>The full-range report and the same report by event scan (a window holding every event), with one generation time.</summary>
    private protected async Task<(CampaignReport Full, CampaignReport Scan)> BuildBothAsync(bool fresh = false)
    {
        if (fresh)
        {
            await ReopenReportsAsync();
        }

        var full = await BuildAsync(RollupOptions);
        var scan = await BuildAsync(RollupOptions, new EventWindow("spring", new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var generated = DateTimeOffset.UnixEpoch;
        return (full with { GeneratedAt = generated, Range = scan.Range }, scan with { GeneratedAt = generated });
    }

    private protected static string ToJson(CampaignReport report) => CampaignReportFormats.ToJson(report);
}
