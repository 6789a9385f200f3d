namespace Herald.Tracking;

/// <summary>
/// Timeline buckets that widen with the time since the send started: minutes while it runs and right after (when a
/// campaign's engagement is densest and its first hour must be visible), then ten minutes, hours, quarter days and
/// days. Edges are UTC, the first one on the minute at or before the anchor.
/// </summary>
public static class TimeBuckets
{
    /// <summary>Most buckets a timeline has; past it the last bucket width is doubled until it fits.</summary>
    public const int MaxBuckets = 1_000;

    private static readonly (TimeSpan Until, TimeSpan Width)[] Steps =
    [
        (TimeSpan.FromHours(2), TimeSpan.FromMinutes(1)),
        (TimeSpan.FromHours(12), TimeSpan.FromMinutes(10)),
        (TimeSpan.FromDays(3), TimeSpan.FromHours(1)),
        (TimeSpan.FromDays(14), TimeSpan.FromHours(6)),
        (TimeSpan.MaxValue, TimeSpan.FromDays(1)),
    ];

    /// <summary>Edges from <paramref name="anchor"/> (floored to the minute) to the first edge after <paramref name="end"/>; bucket i is [edges[i], edges[i+1]).</summary>
    public static IReadOnlyList<DateTimeOffset> Edges(DateTimeOffset anchor, DateTimeOffset end)
    {
        var start = new DateTimeOffset(anchor.UtcTicks - (anchor.UtcTicks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
        var edges = new List<DateTimeOffset> { start };
        var at = start;
        var step = 0;
        var lastWidth = Steps[^1].Width;
        while (at <= end)
        {
            TimeSpan width;
            if (edges.Count < MaxBuckets)
            {
                while (at - start >= Steps[step].Until)
                {
                    step++;
                }

                width = Steps[step].Width;
            }
            else
            {
                // A very long range: keep widening so the timeline stays bounded.
                lastWidth += lastWidth;
                width = lastWidth;
            }

            at = at.UtcTicks > DateTimeOffset.MaxValue.UtcTicks - width.Ticks ? DateTimeOffset.MaxValue : at + width;
            edges.Add(at);
            if (at == DateTimeOffset.MaxValue)
            {
                break;
            }
        }

        return edges;
    }

    /// <summary>The bucket holding <paramref name="at"/>, or -1 when it is outside the edges.</summary>
    public static int IndexOf(IReadOnlyList<DateTimeOffset> edges, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(edges);
        int lo = 0, hi = edges.Count - 2;
        if (hi < 0 || at < edges[0] || at >= edges[^1])
        {
            return -1;
        }

        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (edges[mid] <= at)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }
}
