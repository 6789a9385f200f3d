using System.Diagnostics;
using Herald.Delivery;

namespace Herald.Core.Tests.Delivery;

public sealed class RateLimiterTests
{
    [Fact]
    public async Task Holds_messages_to_the_configured_rate_after_the_first_second_of_burst()
    {
        var limiter = new RateLimiter(20, TimeProvider.System);
        var clock = Stopwatch.StartNew();

        // 20 tokens of burst, then 10 more at 20/s: at least ~0.5 s (a lower bound only; never flaky on a slow machine).
        for (var i = 0; i < 30; i++)
        {
            await limiter.WaitAsync(TestContext.Current.CancellationToken);
        }

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(450), $"30 messages at 20/s took only {clock.Elapsed}");
    }
}
