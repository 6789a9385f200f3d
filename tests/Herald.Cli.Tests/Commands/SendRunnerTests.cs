using Herald.Cli.Commands;
using Herald.Delivery;
using Herald.Store;

namespace Herald.Cli.Tests.Commands;

public sealed class SendRunnerTests
{
    [Fact]
    public void The_progress_line_says_why_the_store_holds_sending_up_and_names_the_live_senders()
    {
        var now = DateTimeOffset.UtcNow;
        var workers = new List<WorkerStatus>
        {
            new("a1:101:x", "a1", 101, now.AddMinutes(-2), now.AddSeconds(-1), now.AddSeconds(29), 64, Live: true),
            new("b2:202:y", "b2", 202, now.AddMinutes(-2), now.AddSeconds(-40), now.AddSeconds(-10), 12, Live: false),
        };
        var progress = new DeliveryProgress(100, 40, 0, 1, 0, 59, 40, TimeSpan.FromSeconds(10), 0,
            Store: "store unavailable for 12s, sending paused: database is locked", Workers: workers, Lost: 3);

        var line = SendRunner.FormatLine(progress);

        Assert.Contains("store: store unavailable for 12s, sending paused: database is locked", line, StringComparison.Ordinal);
        Assert.Contains("lost=3", line, StringComparison.Ordinal);
        Assert.Contains("workers=1 [", line, StringComparison.Ordinal);
        Assert.Contains("a1:101:x on a1 held=64 renewed=1s ago", line, StringComparison.Ordinal);
        Assert.Contains("b2:202:y on b2 held=12 renewed=40s ago (lease expired)", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sender_alone_with_a_healthy_store_keeps_the_short_line()
    {
        var progress = new DeliveryProgress(10, 5, 0, 0, 0, 5, 5, TimeSpan.FromSeconds(1), 0);

        var line = SendRunner.FormatLine(progress);

        Assert.DoesNotContain("store", line, StringComparison.Ordinal);
        Assert.DoesNotContain("workers", line, StringComparison.Ordinal);
        Assert.StartsWith("sent=5 failed=0 in_doubt=0 skipped=0 remaining=5", line, StringComparison.Ordinal);
    }
}
