using Herald.Store;

namespace Herald.Tracking;

/// <summary>Everything <c>herald report</c> and the dashboard show about one campaign (the same object, the same JSON).</summary>
/// <param name="Raw">Every event.</param>
/// <param name="Human">Events that carry no bot flag, from recipients not flagged as bots.</param>
/// <param name="RawRates">Each rate of <paramref name="Rates"/> by name, raw (null when its denominator is zero).</param>
/// <param name="Rates">The rates with their numerators and denominators stated.</param>
public sealed record CampaignReport(
    string Campaign,
    DateTimeOffset GeneratedAt,
    ReportRange Range,
    DeliverySummary Delivery,
    EngagementCounts Raw,
    EngagementCounts Human,
    IReadOnlyDictionary<string, double?> RawRates,
    IReadOnlyDictionary<string, double?> HumanRates,
    IReadOnlyList<RateLine> Rates,
    IReadOnlyList<LinkStats> Links,
    IReadOnlyList<TimePoint> Timeline,
    TimeToFirst TimeToFirstOpen,
    TimeToFirst TimeToFirstClick,
    IReadOnlyDictionary<string, long> BotFlags,
    BotSummary Bots);

/// <summary>The events the report covers: <c>from &lt;= at &lt; to</c>; null ends are open.</summary>
public sealed record ReportRange(DateTimeOffset? From, DateTimeOffset? To);

/// <summary>Delivery numbers of a campaign, from the ledger (all zero when the store has no plan for it).</summary>
/// <param name="Bounces">Bounced and complaining recipients (zero when the store has no bounce events).</param>
public sealed record DeliverySummary(
    long Total,
    long Pending,
    long Sending,
    long Sent,
    long Failed,
    long InDoubt,
    long Skipped,
    IReadOnlyList<FailureCount> FailedByCode,
    IReadOnlyDictionary<string, long> SkippedByReason,
    DateTimeOffset? FirstSentAt,
    DateTimeOffset? LastSentAt,
    BounceFacts Bounces)
{
    /// <summary>Recipients whose attempt has an outcome: sent, failed or in doubt.</summary>
    public long Attempted => Sent + Failed + InDoubt;
}

/// <summary>Engagement numbers of one population. Unique counts are recipients.</summary>
/// <param name="OpenedOrClicked">Recipients with an open or a click (a click shows the email was opened, even when the pixel was not loaded).</param>
/// <param name="Unsubscribes">Recipients who unsubscribed.</param>
public sealed record EngagementCounts(long Opens, long UniqueOpens, long Clicks, long UniqueClicks, long OpenedOrClicked, long Unsubscribes);

/// <summary>One rate, raw and human, with what it divides.</summary>
/// <param name="Name">Key in <see cref="CampaignReport.RawRates"/>: <c>delivery_rate</c>, <c>open_rate</c>, …</param>
/// <param name="Numerator">What is counted (for example <c>unique opens</c>).</param>
/// <param name="Denominator">What it is divided by (for example <c>sent</c>).</param>
public sealed record RateLine(
    string Name,
    string Label,
    string Numerator,
    string Denominator,
    double? Raw,
    long RawNumerator,
    long RawDenominator,
    double? Human,
    long HumanNumerator,
    long HumanDenominator);

/// <summary>Clicks on one link of the template.</summary>
/// <param name="Url">The link's URL when it is the same for everyone; null when personalized (see <paramref name="Targets"/>).</param>
/// <param name="Targets">For a personalized link: the most clicked target URLs.</param>
/// <param name="OtherTargets">Clicks on targets not listed in <paramref name="Targets"/>; null when every target is listed.</param>
public sealed record LinkStats(
    int LinkNumber,
    string Label,
    string? Url,
    bool Personalized,
    long Clicks,
    long UniqueClicks,
    long HumanClicks,
    long HumanUniqueClicks,
    IReadOnlyList<TargetStats> Targets,
    OtherTargets? OtherTargets);

/// <summary>Clicks that went to one target URL of a link.</summary>
public sealed record TargetStats(string Url, long Clicks, long UniqueClicks, long HumanClicks, long HumanUniqueClicks);

/// <summary>Targets of a link that are not listed one by one (unique counts are not additive across them, so only events are summed).</summary>
/// <param name="Targets">How many such targets; null when there were more than the report counts one by one.</param>
public sealed record OtherTargets(long? Targets, long Clicks, long HumanClicks);

/// <summary>Events in one timeline bucket, <paramref name="Seconds"/> long from <paramref name="Start"/>.</summary>
public sealed record TimePoint(DateTimeOffset Start, long Seconds, long Opens, long HumanOpens, long Clicks, long HumanClicks, long Unsubscribes);

/// <summary>How long after delivery recipients first opened (or clicked), raw and human.</summary>
public sealed record TimeToFirst(DelayStats Raw, DelayStats Human);

/// <summary>Delays of the recipients whose delivery time is known; seconds.</summary>
public sealed record DelayStats(long Recipients, double? MedianSeconds, double? P25Seconds, double? P75Seconds, double? P90Seconds, IReadOnlyList<DelayBucket> Histogram);

/// <summary>Recipients whose delay is at most <paramref name="UpToSeconds"/> (and above the previous bucket's); null: the rest.</summary>
public sealed record DelayBucket(string Label, long? UpToSeconds, long Recipients);

/// <summary>What the bot rules flagged.</summary>
/// <param name="MaxEventsPerRecipient">The threshold past which a recipient is a bot as a whole.</param>
/// <param name="VolumeRecipients">Recipients past it; their events are raw only and were counted, not examined.</param>
/// <param name="VolumeEvents">Opens and clicks of those recipients.</param>
public sealed record BotSummary(int MaxEventsPerRecipient, long VolumeRecipients, long VolumeEvents);
