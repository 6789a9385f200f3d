using Herald.Campaigns;

namespace Herald.Core.Tests.Campaigns;

public class DurationsTests
{
    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("7d", 604_800_000)]
    [InlineData(" 7s ", 7_000)]
    public void TryParse_reads_units(string text, long milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("1.5s")]
    [InlineData("-3s")]
    [InlineData("3 days")]
    [InlineData("s")]
    [InlineData("99999999999999999999h")]
    public void TryParse_rejects_other_forms(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public void Format_gives_the_shortest_exact_unit()
    {
        Assert.Equal("2h", Durations.Format(TimeSpan.FromHours(2)));
        Assert.Equal("7d", Durations.Format(TimeSpan.FromDays(7)));
        Assert.Equal("90s", Durations.Format(TimeSpan.FromSeconds(90)));
        Assert.Equal("250ms", Durations.Format(TimeSpan.FromMilliseconds(250)));
    }
}
