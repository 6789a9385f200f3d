using Herald.Tracking;

namespace Herald.Core.Tests.Tracking;

public sealed class TimeBucketsTests
{
    private static readonly DateTimeOffset Start = new(2026, 4, 1, 10, 0, 30, TimeSpan.Zero);

    [Fact]
    public void The_first_hour_is_sixty_one_minute_buckets()
    {
        var edges = TimeBuckets.Edges(Start, Start.AddMinutes(59));

        Assert.Equal(new DateTimeOffset(2026, 4, 1, 10, 0, 0, TimeSpan.Zero), edges[0]);
        Assert.Equal(61, edges.Count);
        Assert.All(edges.Zip(edges.Skip(1)), pair => Assert.Equal(TimeSpan.FromMinutes(1), pair.Second - pair.First));
    }

    [Fact]
    public void Buckets_widen_from_minutes_to_days_and_cover_the_end()
    {
        var end = Start.AddDays(30);

        var edges = TimeBuckets.Edges(Start, end);
        var widths = edges.Zip(edges.Skip(1), (a, b) => b - a).ToList();

        Assert.True(edges[^1] > end);
        Assert.Equal(TimeSpan.FromMinutes(1), widths[0]);
        Assert.Equal(120, widths.Count(w => w == TimeSpan.FromMinutes(1)));
        Assert.Contains(TimeSpan.FromMinutes(10), widths);
        Assert.Contains(TimeSpan.FromHours(1), widths);
        Assert.Equal(TimeSpan.FromDays(1), widths[^1]);
        Assert.Equal(widths.OrderBy(w => w), widths);
        Assert.True(edges.Count < 400);
    }

    [Fact]
    public void Index_finds_the_bucket_of_a_time_and_minus_one_outside()
    {
        var edges = TimeBuckets.Edges(Start, Start.AddHours(5));

        Assert.Equal(0, TimeBuckets.IndexOf(edges, edges[0]));
        Assert.Equal(3, TimeBuckets.IndexOf(edges, edges[3].AddSeconds(59)));
        Assert.Equal(121, TimeBuckets.IndexOf(edges, edges[0].AddHours(2).AddMinutes(15)));
        Assert.Equal(-1, TimeBuckets.IndexOf(edges, edges[0].AddTicks(-1)));
        Assert.Equal(-1, TimeBuckets.IndexOf(edges, edges[^1]));
    }

    [Fact]
    public void A_very_long_span_stays_bounded()
    {
        var edges = TimeBuckets.Edges(Start, Start.AddYears(50));

        Assert.True(edges.Count <= TimeBuckets.MaxBuckets + 64);
        Assert.True(edges[^1] > Start.AddYears(50));
    }
}
