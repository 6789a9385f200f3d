namespace Herald.Tracking;

/// <summary>The thresholds of the bot rules that need more than one event, and the bounds of a report's work.</summary>
public sealed class EngagementOptions
{
    /// <summary>Default of <see cref="MaxEventsPerRecipient"/>: far more opens or clicks than a person makes on one email.</summary>
    public const int DefaultMaxEventsPerRecipient = 1_000;

    /// <summary>A click sooner than this after delivery is flagged early (scanners follow links on arrival).</summary>
    public TimeSpan EarlyClickWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Clicks on <see cref="BurstLinks"/> or more different links within this window are flagged as a burst.</summary>
    public TimeSpan BurstWindow { get; init; } = TimeSpan.FromSeconds(5);

    public int BurstLinks { get; init; } = 3;

    /// <summary>
    /// A recipient with more opens, or more clicks, than this is flagged as a bot as a whole: its events are counted
    /// (raw) by the store and never examined one by one, so one flooding client cannot slow a report down.
    /// </summary>
    public int MaxEventsPerRecipient { get; init; } = DefaultMaxEventsPerRecipient;

    /// <summary>Distinct targets counted per personalized link; clicks on further targets are summed as "other targets".</summary>
    public int MaxTargetsPerLink { get; init; } = 10_000;

    /// <summary>Targets listed per personalized link in a report (the most clicked).</summary>
    public int TopTargets { get; init; } = 10;

    /// <summary>Throws <see cref="HeraldException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (MaxEventsPerRecipient < 1)
        {
            throw new HeraldException($"the bot threshold must be at least 1 event per recipient (got {MaxEventsPerRecipient}).");
        }

        if (BurstLinks < 2 || BurstWindow <= TimeSpan.Zero || EarlyClickWindow < TimeSpan.Zero || MaxTargetsPerLink < 1 || TopTargets < 1)
        {
            throw new HeraldException("invalid bot rule thresholds.");
        }
    }
}
