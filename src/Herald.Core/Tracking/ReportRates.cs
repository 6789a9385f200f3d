namespace Herald.Tracking;

/// <summary>The rates of a report, each with the counts it divides. A rate whose denominator is zero is null.</summary>
internal static class ReportRates
{
    public static List<RateLine> For(DeliverySummary delivery, EngagementCounts raw, EngagementCounts human)
    {
        var attempted = delivery.Attempted;
        var sent = delivery.Sent;
        var rates = new List<RateLine>
        {
            Same("delivery_rate", "Delivery rate", "sent", "attempted (sent + failed + in doubt)", sent, attempted),
            Line("open_rate", "Open rate", "unique opens", "sent", raw.UniqueOpens, sent, human.UniqueOpens, sent),
            Line("click_through_rate", "Click-through rate", "unique clicks", "sent", raw.UniqueClicks, sent, human.UniqueClicks, sent),
            Line("click_to_open_rate", "Click-to-open rate", "unique clicks", "recipients who opened or clicked", raw.UniqueClicks, raw.OpenedOrClicked, human.UniqueClicks, human.OpenedOrClicked),
            Same("unsubscribe_rate", "Unsubscribe rate", "unsubscribed recipients", "sent", raw.Unsubscribes, sent),
        };

        var b = delivery.Bounces;
        rates.Add(Same("bounce_rate", "Bounce rate", "bounced recipients (hard + soft)", "attempted (sent + failed + in doubt)", b.Bounced, attempted));
        rates.Add(Same("hard_bounce_rate", "Hard bounce rate", "hard-bounced recipients", "attempted (sent + failed + in doubt)", b.Hard, attempted));
        rates.Add(Same("soft_bounce_rate", "Soft bounce rate", "soft-bounced recipients (no hard bounce)", "attempted (sent + failed + in doubt)", b.Soft, attempted));
        rates.Add(Same("complaint_rate", "Complaint rate", "recipients who complained", "sent", b.Complaints, sent));
        return rates;
    }

    private static RateLine Same(string name, string label, string numerator, string denominator, long count, long of) =>
        Line(name, label, numerator, denominator, count, of, count, of);

    private static RateLine Line(string name, string label, string numerator, string denominator, long raw, long rawOf, long human, long humanOf) =>
        new(name, label, numerator, denominator, Ratio(raw, rawOf), raw, rawOf, Ratio(human, humanOf), human, humanOf);

    private static double? Ratio(long count, long of) => of == 0 ? null : (double)count / of;
}

/// <summary>Quantiles and a histogram of first-event delays.</summary>
internal static class DelayStatistics
{
    private static readonly (string Label, long? UpTo)[] Buckets =
    [
        ("≤ 1 min", 60), ("1–5 min", 300), ("5–15 min", 900), ("15–30 min", 1_800), ("30–60 min", 3_600), ("1–2 h", 7_200),
        ("2–6 h", 21_600), ("6–12 h", 43_200), ("12–24 h", 86_400), ("1–2 days", 172_800), ("2–7 days", 604_800), ("> 7 days", null),
    ];

    public static DelayStats Of(List<long> seconds)
    {
        seconds.Sort();
        var histogram = new long[Buckets.Length];
        var bucket = 0;
        foreach (var s in seconds)
        {
            while (Buckets[bucket].UpTo is { } upTo && s > upTo)
            {
                bucket++;
            }

            histogram[bucket]++;
        }

        return new DelayStats(
            seconds.Count,
            Quantile(seconds, 0.5),
            Quantile(seconds, 0.25),
            Quantile(seconds, 0.75),
            Quantile(seconds, 0.9),
            [.. Buckets.Select((b, i) => new DelayBucket(b.Label, b.UpTo, histogram[i]))]);
    }

    /// <summary>Linear interpolation between the two nearest ranks (the usual "type 7" estimate).</summary>
    private static double? Quantile(List<long> sorted, double q)
    {
        if (sorted.Count == 0)
        {
            return null;
        }

        var position = q * (sorted.Count - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + ((sorted[above] - sorted[below]) * (position - below));
    }
}
