using Herald.Store;
using Herald.Tracking;

namespace Herald.Core.Tests.Tracking;

public sealed class EngagementAnalyzerTests
{
    private static readonly DateTimeOffset Sent = new(2026, 4, 1, 10, 0, 0, TimeSpan.Zero);

    private static TrackingEvent E(TrackingEventKind kind, string recipient, double seconds, int link = 0, EventFlags flags = EventFlags.None) =>
        new(Guid.CreateVersion7(), Sent.AddSeconds(seconds), kind, "spring", recipient, link,
            link > 0 ? $"https://shop.example.com/{link}" : null, "GET", "Mozilla/5.0 (X11)", "203.0.113.0/24", flags);

    [Fact]
    public void Click_within_the_early_window_after_delivery_is_not_human()
    {
        var analyzer = new EngagementAnalyzer(new EngagementOptions { EarlyClickWindow = TimeSpan.FromSeconds(10) });
        analyzer.Add(E(TrackingEventKind.Click, "fast", 3, link: 1));
        analyzer.Add(E(TrackingEventKind.Click, "slow", 600, link: 1));
        analyzer.SetDeliveredAt("fast", Sent);
        analyzer.SetDeliveredAt("slow", Sent);

        var summary = analyzer.Build();

        Assert.Equal((2L, 2L), (summary.Raw.Clicks, summary.Raw.UniqueClicks));
        Assert.Equal((1L, 1L), (summary.Human.Clicks, summary.Human.UniqueClicks));
        Assert.Equal(1, summary.Flags["early_click"]);
        Assert.False(analyzer.GetRecipient("fast")!.HumanClicked);
        Assert.True(analyzer.GetRecipient("slow")!.HumanClicked);
    }

    [Fact]
    public void Clicking_every_link_within_seconds_is_a_burst()
    {
        var analyzer = new EngagementAnalyzer(new EngagementOptions { BurstWindow = TimeSpan.FromSeconds(5), BurstLinks = 3 });
        analyzer.Add(E(TrackingEventKind.Click, "scanner", 3600, link: 1));
        analyzer.Add(E(TrackingEventKind.Click, "scanner", 3601, link: 2));
        analyzer.Add(E(TrackingEventKind.Click, "scanner", 3602, link: 3));
        analyzer.Add(E(TrackingEventKind.Click, "person", 3600, link: 1));
        analyzer.Add(E(TrackingEventKind.Click, "person", 3602, link: 2));
        analyzer.Add(E(TrackingEventKind.Click, "person", 3700, link: 3));

        var summary = analyzer.Build();

        Assert.Equal(3, summary.Flags["click_burst"]);
        Assert.Equal(3, summary.Human.Clicks);
        Assert.Equal(1, summary.Human.UniqueClicks);
    }

    [Fact]
    public void Flagged_opens_count_as_raw_only_and_unsubscribes_count_recipients()
    {
        var analyzer = new EngagementAnalyzer();
        analyzer.Add(E(TrackingEventKind.Open, "a", 100));
        analyzer.Add(E(TrackingEventKind.Open, "a", 200));
        analyzer.Add(E(TrackingEventKind.Open, "b", 100, flags: EventFlags.AppleMpp));
        analyzer.Add(E(TrackingEventKind.Open, "c", 100, flags: EventFlags.Head));
        analyzer.Add(E(TrackingEventKind.Unsubscribe, "a", 300));
        analyzer.Add(E(TrackingEventKind.Unsubscribe, "a", 301));

        var summary = analyzer.Build();

        Assert.Equal(new EngagementCounts(4, 3, 0, 0, 1), summary.Raw);
        Assert.Equal(new EngagementCounts(2, 1, 0, 0, 1), summary.Human);
        Assert.Equal(1, summary.Flags["apple_mpp"]);
        Assert.Equal(1, summary.Flags["head"]);
    }

    [Fact]
    public void Links_and_timeline_count_raw_and_human_per_bucket()
    {
        var analyzer = new EngagementAnalyzer(new EngagementOptions { Bucket = TimeSpan.FromHours(1) });
        analyzer.Add(E(TrackingEventKind.Click, "a", 60, link: 2));
        analyzer.Add(E(TrackingEventKind.Click, "a", 3700, link: 2));
        analyzer.Add(E(TrackingEventKind.Click, "b", 3800, link: 2, flags: EventFlags.Scanner));
        analyzer.Add(E(TrackingEventKind.Open, "b", 3900));

        var summary = analyzer.Build();

        var link = Assert.Single(summary.Links);
        Assert.Equal(new LinkStats(2, "https://shop.example.com/2", 3, 2, 2, 1), link);
        Assert.Equal(
            [new TimePoint(Sent, 0, 0, 1, 1), new TimePoint(Sent.AddHours(1), 1, 1, 2, 1)],
            summary.Timeline);
    }

    [Fact]
    public void No_events_give_zero_counts_and_an_empty_timeline()
    {
        var summary = new EngagementAnalyzer().Build();

        Assert.Equal(new EngagementCounts(0, 0, 0, 0, 0), summary.Raw);
        Assert.Empty(summary.Timeline);
        Assert.Empty(summary.Links);
    }
}
