namespace Herald.Store;

/// <summary>
/// The tracking side of a store: engagement events (opens, clicks, unsubscribes) and the suppression list. Lives in
/// the same database as the delivery ledger but owns its own tables. Every backend passes the same contract tests.
/// </summary>
public interface ITrackingStore : ISuppressionList, IAsyncDisposable
{
    /// <summary>Creates or upgrades the tracking tables (idempotent).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Appends events in one transaction. Idempotent per <see cref="TrackingEvent.Id"/>: an event already stored is
    /// ignored, so a spool can be replayed after a crash without double counting. Every unsubscribe event also
    /// suppresses its address (reason <see cref="SuppressionReason.Unsubscribed"/>), when the address is known: carried
    /// by the event, or found in the delivery ledger of the same store. Returns how many events were new.
    /// </summary>
    Task<int> AppendEventsAsync(IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken);

    /// <summary>Streams a campaign's events ordered by recipient, then time.</summary>
    IAsyncEnumerable<TrackingEvent> ReadEventsAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Raw event counts of a campaign per kind (cheap; for checks and metrics).</summary>
    Task<EventCounts> GetEventCountsAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Ids of every campaign that has at least one event.</summary>
    Task<IReadOnlyList<string>> ListEventCampaignsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Adds or refreshes suppressions (addresses must already be normalized). An address already suppressed keeps its
    /// first reason and time. Returns how many addresses were newly suppressed.
    /// </summary>
    Task<int> AddSuppressionsAsync(IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken);

    /// <summary>Removes one normalized address; false when it was not suppressed.</summary>
    Task<bool> RemoveSuppressionAsync(string normalizedEmail, CancellationToken cancellationToken);

    /// <summary>Streams the whole suppression list ordered by address.</summary>
    IAsyncEnumerable<SuppressionEntry> ListSuppressionsAsync(CancellationToken cancellationToken);
}

/// <summary>What happened.</summary>
public enum TrackingEventKind
{
    Open = 1,
    Click = 2,
    Unsubscribe = 3,
}

/// <summary>
/// Why an event is probably not a human. Flags set by the server when the request arrives; the analysis adds the
/// rules that need more than one event (<see cref="EarlyClick"/>, <see cref="ClickBurst"/>).
/// </summary>
[Flags]
public enum EventFlags
{
    None = 0,

    /// <summary>A HEAD request (link checkers, previewers).</summary>
    Head = 1,

    /// <summary>The user agent is a known security scanner, crawler or HTTP library.</summary>
    Scanner = 2,

    /// <summary>An open fetched by Apple Mail Privacy Protection's proxy.</summary>
    AppleMpp = 4,

    /// <summary>A click too soon after the message was delivered for a human to have read it.</summary>
    EarlyClick = 8,

    /// <summary>The recipient clicked many different links within seconds.</summary>
    ClickBurst = 16,
}

/// <summary>One engagement event.</summary>
/// <param name="Id">Unique id (time-ordered GUID); makes appends idempotent.</param>
/// <param name="At">When the request arrived (UTC).</param>
/// <param name="LinkNumber">1-based link number for clicks; 0 otherwise.</param>
/// <param name="Target">The click's target URL; null for opens and unsubscribes.</param>
/// <param name="Method">HTTP method (<c>GET</c>, <c>HEAD</c>, <c>POST</c>).</param>
/// <param name="UserAgent">User agent, truncated to 512 characters; null when absent.</param>
/// <param name="ClientNetwork">Privacy-preserving client address: the /24 (IPv4) or /48 (IPv6) network, never the full address.</param>
/// <param name="Email">Normalized address for unsubscribes when the server knows it; null to resolve it from the ledger.</param>
public sealed record TrackingEvent(
    Guid Id,
    DateTimeOffset At,
    TrackingEventKind Kind,
    string CampaignId,
    string RecipientId,
    int LinkNumber,
    string? Target,
    string Method,
    string? UserAgent,
    string? ClientNetwork,
    EventFlags Flags,
    string? Email = null);

/// <summary>Raw counts of a campaign's events.</summary>
public sealed record EventCounts(long Opens, long Clicks, long Unsubscribes)
{
    public long Total => Opens + Clicks + Unsubscribes;
}

/// <summary>Why an address is suppressed.</summary>
public enum SuppressionReason
{
    Unsubscribed = 1,
    Bounced = 2,
    Complained = 3,
    Manual = 4,
}

/// <summary>Names as they appear in files, JSON and the database.</summary>
public static class SuppressionReasons
{
    public static string ToName(this SuppressionReason reason) => reason switch
    {
        SuppressionReason.Unsubscribed => "unsubscribed",
        SuppressionReason.Bounced => "bounced",
        SuppressionReason.Complained => "complained",
        SuppressionReason.Manual => "manual",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    public static bool TryParse(string? name, out SuppressionReason reason)
    {
        reason = name?.Trim().ToUpperInvariant() switch
        {
            "UNSUBSCRIBED" => SuppressionReason.Unsubscribed,
            "BOUNCED" => SuppressionReason.Bounced,
            "COMPLAINED" => SuppressionReason.Complained,
            "MANUAL" => SuppressionReason.Manual,
            _ => 0,
        };
        return reason != 0;
    }
}

/// <summary>One suppressed address.</summary>
/// <param name="Email">Normalized address.</param>
/// <param name="CampaignId">The campaign it came from (unsubscribes, bounces); null for manual entries.</param>
public sealed record SuppressionEntry(string Email, SuppressionReason Reason, string? CampaignId, DateTimeOffset At);
