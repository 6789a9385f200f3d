namespace Herald.Store;

/// <summary>
/// The read side of reports and the dashboard: aggregates computed where the data is, and the few streams a report
/// needs, each ordered so that the caller merges them without holding a campaign in memory. It reads the ledger and the
/// tracking tables of the same database. Every backend passes the same contract tests.
/// </summary>
/// <remarks>
/// Streams ordered "by recipient" use the byte order of the recipient id's UTF-8 encoding (SQLite's BINARY collation,
/// PostgreSQL's <c>"C"</c>): see <see cref="RecipientOrder"/>. Work per recipient is bounded: clicks of a recipient past
/// the caller's threshold are counted by SQL (<see cref="FindHeavyClickersAsync"/>) and never streamed.
/// </remarks>
public interface IReportStore : IAsyncDisposable
{
    /// <summary>
    /// Creates what reports need (the link catalogue, the indexes the report queries read) when the store is opened
    /// for writing; idempotent. Read-only commands never call it: queries stay correct, if slower, without the indexes.
    /// </summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Records the tracked links of a campaign's template (replacing what was recorded before).</summary>
    Task SaveLinksAsync(string campaignId, IReadOnlyList<LinkDefinition> links, CancellationToken cancellationToken);

    /// <summary>The recorded links of a campaign, by number; empty when none were recorded.</summary>
    Task<IReadOnlyList<LinkDefinition>> GetLinksAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Every campaign with a plan or an event, with cheap counts (for the overview).</summary>
    Task<IReadOnlyList<CampaignListing>> ListCampaignsAsync(CancellationToken cancellationToken);

    /// <summary>The ledger's numbers for one campaign; null when the campaign has no plan in this store.</summary>
    Task<DeliveryFacts?> GetDeliveryAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// Bounced and complaining recipients of the campaign, from the bounce events (every one, whatever the window: like
    /// the ledger's numbers). A store without bounce tables has none: all zero.
    /// </summary>
    Task<BounceFacts> GetBouncesAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>The campaign's bounce and complaint events by recipient, then time (the export's columns); empty without bounce tables.</summary>
    IAsyncEnumerable<BounceRow> ReadBouncesAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Earliest and latest event of the window, per kind; null when it holds no event.</summary>
    Task<EventSpan?> GetEventSpanAsync(EventWindow window, CancellationToken cancellationToken);

    /// <summary>
    /// Part <paramref name="part"/> (0-based) of <paramref name="parts"/> of the recipients recorded <c>sent</c> and
    /// when: ranges of the plan's row ids, each read in plan order (a sequential read, no sort). The parts together hold
    /// every sent row once, and a lower part holds earlier rows, so the report reads them concurrently, one map each,
    /// for the rules and delays that need each recipient's delivery time.
    /// </summary>
    IAsyncEnumerable<DeliveredRow> ReadDeliveredAsync(string campaignId, int part, int parts, CancellationToken cancellationToken);

    /// <summary>The first and last delivery of the campaign (the times of its <c>sent</c> rows); null when none was sent.</summary>
    Task<EventSpan?> GetDeliverySpanAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// True when this store keeps each engaged recipient's delivery time beside its rollups, so that
    /// <see cref="ReadEngagedDeliveriesAsync"/> reads a row per recipient with an event instead of a report reading
    /// every sent row (<see cref="ReadDeliveredAsync"/>) into a map before it can merge: the whole campaign on a
    /// store that keeps them. False when the stream would cost more than the map.
    /// </summary>
    Task<bool> PrefersEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken);

    /// <summary>
    /// The delivery time of each recipient with an event in the window and a <c>sent</c> row in the ledger (the first
    /// in plan order, as <see cref="ReadDeliveredAsync"/> gives it), by recipient. Recipients without a sent row are
    /// left out.
    /// </summary>
    IAsyncEnumerable<DeliveredRow> ReadEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken);

    /// <summary>Every ledger row of the campaign, by recipient. <paramref name="details"/> adds address, reply, attempts and skip reason.</summary>
    IAsyncEnumerable<LedgerEntry> ReadLedgerAsync(string campaignId, bool details, CancellationToken cancellationToken);

    /// <summary>One row per recipient that opened within the window, by recipient.</summary>
    IAsyncEnumerable<OpenSummary> ReadOpenSummariesAsync(EventWindow window, CancellationToken cancellationToken);

    /// <summary>Recipients with more than <paramref name="maxClicks"/> clicks within the window, by recipient.</summary>
    Task<IReadOnlyList<HeavyRecipient>> FindHeavyClickersAsync(EventWindow window, int maxClicks, CancellationToken cancellationToken);

    /// <summary>
    /// Clicks of the window by recipient, then time, leaving out the recipients in <paramref name="excluded"/>. The
    /// target is read only for links in <paramref name="withTarget"/> (the personalized ones; null: every link), null otherwise.
    /// </summary>
    IAsyncEnumerable<ClickRow> ReadClicksAsync(EventWindow window, IReadOnlyCollection<string> excluded, IReadOnlySet<int>? withTarget, CancellationToken cancellationToken);

    /// <summary>Clicks of the given recipients counted per recipient, link and (for links in <paramref name="withTarget"/>; null: every link) target.</summary>
    Task<IReadOnlyList<LinkClickCount>> CountClicksByLinkAsync(EventWindow window, IReadOnlyCollection<string> recipients, IReadOnlySet<int>? withTarget, CancellationToken cancellationToken);

    /// <summary>One row per recipient that unsubscribed within the window, by recipient.</summary>
    IAsyncEnumerable<UnsubscribeRow> ReadUnsubscribesAsync(EventWindow window, CancellationToken cancellationToken);

    /// <summary>
    /// Events of one kind per bucket: bucket <c>i</c> is <c>[edges[i], edges[i + 1])</c>, so the result has one row per
    /// bucket (<c>edges.Count - 1</c>). With <paramref name="recipients"/>, only their events are counted.
    /// </summary>
    Task<IReadOnlyList<BucketCount>> CountByBucketAsync(
        EventWindow window, TrackingEventKind kind, IReadOnlyList<DateTimeOffset> edges, IReadOnlyCollection<string>? recipients, CancellationToken cancellationToken);

    /// <summary>Every event of the window, by time (then id), with all its fields: the events export.</summary>
    IAsyncEnumerable<TrackingEvent> ReadEventsByTimeAsync(EventWindow window, CancellationToken cancellationToken);
}

/// <summary>The events a report reads: one campaign, optionally only those with <c>From &lt;= at &lt; To</c>.</summary>
public sealed record EventWindow(string CampaignId, DateTimeOffset? From = null, DateTimeOffset? To = null);

/// <summary>A tracked link of a campaign's template.</summary>
/// <param name="Number">The link number carried in click tokens (1-based, in template order).</param>
/// <param name="Label">The <c>data-herald-label</c> attribute, else the anchor's text (or an image's alt text).</param>
/// <param name="StaticTarget">The URL when it is the same for everyone; null when it is personalized (has Liquid).</param>
public sealed record LinkDefinition(int Number, string Label, string? StaticTarget)
{
    public bool Personalized => StaticTarget is null;
}

/// <summary>A campaign of the store and its cheap counts.</summary>
public sealed record CampaignListing(
    string CampaignId, DateTimeOffset? PlannedAt, long Recipients, long Sent, long Opens, long Clicks, long Unsubscribes, DateTimeOffset? LastEventAt);

/// <summary>Failed recipients sharing an SMTP code; <paramref name="Code"/> is null when the failure had no reply code.</summary>
public sealed record FailureCount(int? Code, string? SampleText, long Count);

/// <summary>What the ledger says about one campaign.</summary>
public sealed record DeliveryFacts(
    DateTimeOffset PlannedAt,
    long Pending,
    long Sending,
    long Sent,
    long Failed,
    long InDoubt,
    long Skipped,
    IReadOnlyList<FailureCount> FailedByCode,
    IReadOnlyDictionary<string, long> SkippedByReason)
{
    public long Total => Pending + Sending + Sent + Failed + InDoubt + Skipped;
}

/// <summary>Bounces and complaints of a campaign, in recipients.</summary>
/// <param name="Hard">Recipients with at least one hard bounce.</param>
/// <param name="Soft">Recipients with soft bounces only (a recipient who also bounced hard counts as hard), so hard and soft add up.</param>
/// <param name="Complaints">Recipients who complained at least once.</param>
public sealed record BounceFacts(long Hard, long Soft, long Complaints)
{
    /// <summary>Recipients with a hard or a soft bounce.</summary>
    public long Bounced => Hard + Soft;
}

/// <summary>One bounce or complaint event, as the export reads it.</summary>
/// <param name="Code">The enhanced status code when known (else the SMTP reply code); null for complaints.</param>
public readonly record struct BounceRow(string RecipientId, BounceType Type, string? Code);

/// <summary>Earliest and latest event of a window.</summary>
public sealed record EventSpan(DateTimeOffset First, DateTimeOffset Last);

/// <summary>A recipient recorded <c>sent</c>, and when the relay accepted its message.</summary>
public readonly record struct DeliveredRow(string RecipientId, DateTimeOffset At);

/// <summary>One ledger row. The detail fields are null unless asked for.</summary>
/// <param name="UpdatedAt">When the row last changed; for a <c>sent</c> row, when the relay accepted the message.</param>
public sealed record LedgerEntry(
    string RecipientId,
    DeliveryState State,
    DateTimeOffset UpdatedAt,
    string? Email = null,
    int? SmtpCode = null,
    string? SmtpText = null,
    int Attempts = 0,
    string? SkipReason = null);

/// <summary>The opens of one recipient.</summary>
/// <param name="Unflagged">Opens without a request flag (<see cref="EventFlags.Head"/>, <see cref="EventFlags.Scanner"/>, <see cref="EventFlags.AppleMpp"/>).</param>
/// <param name="FirstUnflaggedAt">Null when every open carries a flag.</param>
public readonly record struct OpenSummary(
    string RecipientId, long Opens, long Unflagged, DateTimeOffset FirstAt, DateTimeOffset? FirstUnflaggedAt, long Head, long Scanner, long AppleMpp);

/// <summary>A recipient counted, not streamed: more events than the report examines one by one.</summary>
public sealed record HeavyRecipient(string RecipientId, long Count, DateTimeOffset FirstAt, long Head, long Scanner);

/// <summary>One click, as the classification reads it.</summary>
/// <param name="Target">The target URL, for personalized links only.</param>
public readonly record struct ClickRow(string RecipientId, DateTimeOffset At, int LinkNumber, EventFlags Flags, string? Target);

/// <summary>Clicks of one recipient on one link (and target, for personalized links).</summary>
public sealed record LinkClickCount(string RecipientId, int LinkNumber, string? Target, long Clicks);

/// <summary>The unsubscribes of one recipient.</summary>
public readonly record struct UnsubscribeRow(string RecipientId, DateTimeOffset FirstAt, long Count);

/// <summary>Events in one bucket; <paramref name="Unflagged"/> of them carry no request flag.</summary>
public readonly record struct BucketCount(long Events, long Unflagged);
