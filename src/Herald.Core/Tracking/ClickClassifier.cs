using Herald.Store;

namespace Herald.Tracking;

/// <summary>
/// The bot rules that need a recipient's other clicks, in one linear pass over its clicks in time order: a sliding
/// window of <see cref="EngagementOptions.BurstWindow"/> with a count per link (the number of links with a non-zero
/// count is the window's distinct links), and the delivery time for the early-click rule.
/// </summary>
internal sealed class ClickClassifier
{
    private readonly long _burstWindow;
    private readonly int _burstLinks;
    private readonly long _earlyWindow;
    private readonly Dictionary<int, int> _perLink = [];

    public ClickClassifier(EngagementOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _burstWindow = options.BurstWindow.Ticks;
        _burstLinks = options.BurstLinks;
        _earlyWindow = options.EarlyClickWindow.Ticks;
    }

    /// <summary>
    /// Writes the derived flags of each click (<see cref="EventFlags.EarlyClick"/>, <see cref="EventFlags.ClickBurst"/>)
    /// into <paramref name="derived"/>. <paramref name="clicks"/> must be one recipient's, ordered by time.
    /// </summary>
    /// <remarks>
    /// A click is in a burst when some window of the burst length that contains it covers the burst number of different
    /// links. Such a window can always be moved to start at a click, so it is enough to look, for every click j, at the
    /// window starting at j: when it is a burst, every click up to its end is flagged. "Up to its end" is one running
    /// maximum, so the pass is O(n) with one dictionary update per click entering and leaving the window.
    /// </remarks>
    public void Classify(ReadOnlySpan<ClickRow> clicks, DateTimeOffset? deliveredAt, Span<EventFlags> derived)
    {
        if (derived.Length < clicks.Length)
        {
            throw new ArgumentException("One flag slot per click is needed.", nameof(derived));
        }

        derived[..clicks.Length].Clear();
        if (deliveredAt is { } delivered)
        {
            var limit = delivered.UtcTicks + _earlyWindow;
            for (var i = 0; i < clicks.Length && clicks[i].At.UtcTicks < limit; i++)
            {
                derived[i] |= EventFlags.EarlyClick;
            }
        }

        _perLink.Clear();
        var distinct = 0;
        var end = 0;
        var reach = -1;
        for (var start = 0; start < clicks.Length; start++)
        {
            var windowEnd = clicks[start].At.UtcTicks + _burstWindow;
            while (end < clicks.Length && clicks[end].At.UtcTicks <= windowEnd)
            {
                ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_perLink, clicks[end].LinkNumber, out _);
                if (count++ == 0)
                {
                    distinct++;
                }

                end++;
            }

            if (distinct >= _burstLinks)
            {
                reach = end - 1;
            }

            if (reach >= start)
            {
                derived[start] |= EventFlags.ClickBurst;
            }

            ref var leaving = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_perLink, clicks[start].LinkNumber);
            if (--leaving == 0)
            {
                distinct--;
            }
        }
    }
}
