using Herald.Bounces;

namespace Herald.Core.Tests.Bounces;

public sealed class HardBounceWindowTests
{
    [Fact]
    public void The_window_keeps_the_latest_attempts_only()
    {
        var window = new HardBounceWindow(4);

        window.Add("r1", hard: true);
        window.Add("r2", hard: false);
        Assert.Equal((2, 1), window.Counts());

        window.Add("r3", hard: false);
        window.Add("r4", hard: false);
        window.Add("r5", hard: false);

        Assert.Equal((4, 0), window.Counts());
        Assert.Equal(["r2", "r3", "r4", "r5"], window.Recipients().Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Reported_bounces_count_only_for_recipients_still_in_the_window_and_never_twice()
    {
        var window = new HardBounceWindow(3);
        window.Add("r1", hard: true);
        window.Add("r2", hard: false);
        window.Add("r3", hard: false);

        window.SetReported(new HashSet<string> { "r1", "r3", "r0" });

        Assert.Equal((3, 2), window.Counts());
        window.Add("r4", hard: false);
        Assert.Equal((3, 1), window.Counts());
    }
}
