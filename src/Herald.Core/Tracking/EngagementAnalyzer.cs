using Herald.Store;

namespace Herald.Tracking;

/// <summary>Thresholds of the bot rules that need more than one event.</summary>
public sealed class EngagementOptions
{
    /// <summary>A click sooner than this after delivery is flagged <see cref="EventFlags.EarlyClick"/> (scanners follow links on arrival).</summary>
    public TimeSpan EarlyClickWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Clicks on <see cref="BurstLinks"/> or more different links within this window are flagged <see cref="EventFlags.ClickBurst"/>.</summary>
    public TimeSpan BurstWindow { get; init; } = TimeSpan.FromSeconds(5);

    public int BurstLinks { get; init; } = 3;

    /// <summary>Width of a timeline bucket; null picks hours for spans up to three days, days beyond.</summary>
    public TimeSpan? Bucket { get; init; }
}

/// <summary>
/// Turns a campaign's events into raw and human numbers. Feed it the events (ordered by recipient, as the store
/// streams them), then the delivery time of sent recipients, then <see cref="Build"/>. Memory grows with the number
/// of engaged recipients and clicks, never with the size of the campaign.
/// </summary>
public sealed class EngagementAnalyzer
{
    private readonly EngagementOptions _options;
    private readonly Dictionary<string, RecipientState> _recipients = new(StringComparer.Ordinal);
    private readonly List<TrackingEvent> _opens = [];
    private readonly Dictionary<EventFlags, long> _flagCounts = [];
    private long _unsubscribeEvents;

    public EngagementAnalyzer(EngagementOptions? options = null)
    {
        _options = options ?? new EngagementOptions();
    }

    public void Add(TrackingEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (!_recipients.TryGetValue(e.RecipientId, out var state))
        {
            state = new RecipientState();
            _recipients.Add(e.RecipientId, state);
        }

        switch (e.Kind)
        {
            case TrackingEventKind.Open:
                _opens.Add(e);
                state.Opened = true;
                state.HumanOpened |= e.Flags == EventFlags.None;
                break;
            case TrackingEventKind.Click:
                (state.Clicks ??= []).Add(e);
                break;
            case TrackingEventKind.Unsubscribe:
                state.Unsubscribed = true;
                _unsubscribeEvents++;
                break;
            default:
                break;
        }
    }

    public async Task AddAllAsync(IAsyncEnumerable<TrackingEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        await foreach (var e in events.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            Add(e);
        }
    }

    /// <summary>True when the early-click rule needs this recipient's delivery time.</summary>
    public bool NeedsDeliveryTime(string recipientId) =>
        _recipients.TryGetValue(recipientId, out var state) && state.Clicks is not null;

    public void SetDeliveredAt(string recipientId, DateTimeOffset deliveredAt)
    {
        if (_recipients.TryGetValue(recipientId, out var state))
        {
            state.DeliveredAt = deliveredAt;
        }
    }

    /// <summary>Per-recipient booleans, after <see cref="Build"/>; null when the recipient has no event.</summary>
    public RecipientEngagement? GetRecipient(string recipientId) =>
        _recipients.TryGetValue(recipientId, out var s)
            ? new RecipientEngagement(s.Opened, s.HumanOpened, s.Clicks is not null, s.HumanClicked, s.Unsubscribed)
            : null;

    public EngagementSummary Build()
    {
        var clicks = new List<TrackingEvent>();
        foreach (var state in _recipients.Values)
        {
            if (state.Clicks is null)
            {
                continue;
            }

            state.Clicks.Sort((a, b) => a.At.CompareTo(b.At));
            for (var i = 0; i < state.Clicks.Count; i++)
            {
                var click = state.Clicks[i];
                var flags = click.Flags;
                if (state.DeliveredAt is { } delivered && click.At - delivered < _options.EarlyClickWindow)
                {
                    flags |= EventFlags.EarlyClick;
                }

                if (IsInBurst(state.Clicks, i))
                {
                    flags |= EventFlags.ClickBurst;
                }

                state.Clicks[i] = click with { Flags = flags };
                state.HumanClicked |= flags == EventFlags.None;
            }

            clicks.AddRange(state.Clicks);
        }

        foreach (var e in _opens.Concat(clicks))
        {
            foreach (var flag in Enum.GetValues<EventFlags>())
            {
                if (flag != EventFlags.None && e.Flags.HasFlag(flag))
                {
                    _flagCounts[flag] = _flagCounts.GetValueOrDefault(flag) + 1;
                }
            }
        }

        var raw = Count(clicksFilter: static _ => true);
        var human = Count(clicksFilter: static e => e.Flags == EventFlags.None);
        var links = clicks
            .GroupBy(c => c.LinkNumber)
            .OrderBy(g => g.Key)
            .Select(g => new LinkStats(
                g.Key,
                g.Select(c => c.Target).FirstOrDefault(t => t is not null),
                g.LongCount(),
                g.Select(c => c.RecipientId).Distinct(StringComparer.Ordinal).LongCount(),
                g.LongCount(c => c.Flags == EventFlags.None),
                g.Where(c => c.Flags == EventFlags.None).Select(c => c.RecipientId).Distinct(StringComparer.Ordinal).LongCount()))
            .ToList();

        var (bucket, timeline) = BuildTimeline(_opens, clicks);
        return new EngagementSummary(raw, human, links, bucket, timeline,
            _flagCounts.OrderBy(p => p.Key).ToDictionary(p => FlagName(p.Key), p => p.Value));

        EngagementCounts Count(Func<TrackingEvent, bool> clicksFilter)
        {
            var opens = _opens.Where(clicksFilter).ToList();
            var kept = clicks.Where(clicksFilter).ToList();
            var unsubscribers = _recipients.Values.LongCount(s => s.Unsubscribed);
            return new EngagementCounts(
                opens.Count,
                opens.Select(o => o.RecipientId).Distinct(StringComparer.Ordinal).LongCount(),
                kept.Count,
                kept.Select(c => c.RecipientId).Distinct(StringComparer.Ordinal).LongCount(),
                unsubscribers);
        }
    }

    public long UnsubscribeEvents => _unsubscribeEvents;

    public static string FlagName(EventFlags flag) => flag switch
    {
        EventFlags.Head => "head",
        EventFlags.Scanner => "scanner",
        EventFlags.AppleMpp => "apple_mpp",
        EventFlags.EarlyClick => "early_click",
        EventFlags.ClickBurst => "click_burst",
        _ => flag.ToString().ToUpperInvariant(),
    };

    private bool IsInBurst(List<TrackingEvent> sorted, int index)
    {
        // The click belongs to a burst when some window of BurstWindow containing it covers BurstLinks distinct links.
        var at = sorted[index].At;
        var links = new HashSet<int>();
        for (var start = index; start >= 0 && at - sorted[start].At <= _options.BurstWindow; start--)
        {
            links.Clear();
            var windowStart = sorted[start].At;
            for (var j = start; j < sorted.Count && sorted[j].At - windowStart <= _options.BurstWindow; j++)
            {
                links.Add(sorted[j].LinkNumber);
            }

            if (links.Count >= _options.BurstLinks)
            {
                return true;
            }
        }

        return false;
    }

    private (TimeSpan Bucket, IReadOnlyList<TimePoint> Points) BuildTimeline(List<TrackingEvent> opens, List<TrackingEvent> clicks)
    {
        if (opens.Count == 0 && clicks.Count == 0)
        {
            return (_options.Bucket ?? TimeSpan.FromHours(1), []);
        }

        var all = opens.Concat(clicks).ToList();
        var first = all.Min(e => e.At);
        var last = all.Max(e => e.At);
        var bucket = _options.Bucket ?? (last - first <= TimeSpan.FromDays(3) ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1));
        var points = new SortedDictionary<long, long[]>();
        foreach (var e in all)
        {
            var key = e.At.UtcTicks - (e.At.UtcTicks % bucket.Ticks);
            if (!points.TryGetValue(key, out var counts))
            {
                counts = new long[4];
                points.Add(key, counts);
            }

            var offset = e.Kind == TrackingEventKind.Open ? 0 : 2;
            counts[offset]++;
            if (e.Flags == EventFlags.None)
            {
                counts[offset + 1]++;
            }
        }

        return (bucket, points
            .Select(p => new TimePoint(new DateTimeOffset(p.Key, TimeSpan.Zero), p.Value[0], p.Value[1], p.Value[2], p.Value[3]))
            .ToList());
    }

    private sealed class RecipientState
    {
        public bool Opened;
        public bool HumanOpened;
        public bool HumanClicked;
        public bool Unsubscribed;
        public List<TrackingEvent>? Clicks;
        public DateTimeOffset? DeliveredAt;
    }
}

/// <summary>Engagement numbers of one population (raw: every event; human: events with no bot flag).</summary>
public sealed record EngagementCounts(long Opens, long UniqueOpens, long Clicks, long UniqueClicks, long Unsubscribes);

/// <summary>Clicks on one link.</summary>
public sealed record LinkStats(int LinkNumber, string? Url, long Clicks, long UniqueClicks, long HumanClicks, long HumanUniqueClicks);

/// <summary>Opens and clicks in one timeline bucket starting at <paramref name="Start"/>.</summary>
public sealed record TimePoint(DateTimeOffset Start, long Opens, long HumanOpens, long Clicks, long HumanClicks);

/// <summary>What one recipient did.</summary>
public sealed record RecipientEngagement(bool Opened, bool HumanOpened, bool Clicked, bool HumanClicked, bool Unsubscribed);

/// <summary>The result of <see cref="EngagementAnalyzer.Build"/>.</summary>
public sealed record EngagementSummary(
    EngagementCounts Raw,
    EngagementCounts Human,
    IReadOnlyList<LinkStats> Links,
    TimeSpan Bucket,
    IReadOnlyList<TimePoint> Timeline,
    IReadOnlyDictionary<string, long> Flags);
