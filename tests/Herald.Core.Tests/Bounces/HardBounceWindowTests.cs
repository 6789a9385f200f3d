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

        window.MarkReported(["r1", "r3", "r0"]);
        window.MarkReported(["r3"]);

        Assert.Equal((3, 2), window.Counts());
        window.Add("r4", hard: false);
        Assert.Equal((3, 1), window.Counts());
        window.Add("r5", hard: false);
        window.Add("r6", hard: false);
        Assert.Equal((3, 0), window.Counts());
        // r3 left the window: a late report of it counts for nothing.
        window.MarkReported(["r3"]);
        Assert.Equal((3, 0), window.Counts());
    }

    [Fact]
    public void A_large_window_is_handed_out_in_bounded_pieces_that_cover_every_slot()
    {
        var window = new HardBounceWindow(10);
        for (var i = 0; i < 7; i++)
        {
            window.Add($"r{i}", hard: false);
        }

        var (first, next) = window.Recipients(0, 3);
        var (second, after) = window.Recipients(next, 3);
        var (third, wrapped) = window.Recipients(after, 3);

        Assert.Equal(["r0", "r1", "r2"], first);
        Assert.Equal(["r3", "r4", "r5"], second);
        Assert.Equal(["r6"], third);
        Assert.Equal((3, 6, 0), (next, after, wrapped));
        Assert.Equal(7, window.Recipients().Count);
    }
}
