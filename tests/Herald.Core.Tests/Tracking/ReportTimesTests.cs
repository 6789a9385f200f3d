using Herald.Tracking;

namespace Herald.Core.Tests.Tracking;

public sealed class ReportTimesTests
{
    private static readonly DateTimeOffset Now = new(2026, 4, 10, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("2026-04-01T10:00:00Z", "2026-04-01T10:00:00+00:00")]
    [InlineData("2026-04-01T12:00:00+02:00", "2026-04-01T10:00:00+00:00")]
    [InlineData("2026-04-01", "2026-04-01T00:00:00+00:00")]
    [InlineData("24h", "2026-04-09T12:00:00+00:00")]
    [InlineData("7d", "2026-04-03T12:00:00+00:00")]
    [InlineData("90m", "2026-04-10T10:30:00+00:00")]
    public void Times_are_iso_dates_or_durations_back_from_now(string text, string expected)
    {
        Assert.True(ReportTimes.TryParse(text, Now, out var value));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("yesterday")]
    [InlineData("-5d")]
    [InlineData("99999999d")]
    public void Anything_else_is_refused(string text) => Assert.False(ReportTimes.TryParse(text, Now, out _));
}
