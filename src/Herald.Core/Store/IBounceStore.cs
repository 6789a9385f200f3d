namespace Herald.Store;

/// <summary>
/// Bounces and complaints of a store: one event per (message, recipient, kind) with how it was learnt, the campaign
/// settings the bounce receiver needs (bounce domain, policy), the store-wide policy, and lookups of the delivery ledger
/// that map a bounce back to its recipient. Lives in the same database as the ledger; every backend passes the same
/// contract tests.
/// </summary>
public interface IBounceStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the bounce tables (idempotent).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Appends events in one transaction. Idempotent per <see cref="BounceEvent.Id"/>: the same bounce processed twice
    /// (a retried SMTP transaction, an mbox imported again) is stored once. Returns how many events were new.
    /// </summary>
    Task<int> AppendAsync(IReadOnlyList<BounceEvent> events, CancellationToken cancellationToken);

    /// <summary>How many events of <paramref name="type"/> the address has at or after <paramref name="since"/>, over every campaign.</summary>
    Task<int> CountAsync(string email, BounceType type, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Streams a campaign's events ordered by recipient, then time.</summary>
    IAsyncEnumerable<BounceEvent> ReadAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Distinct recipients of a campaign with at least one hard bounce, soft bounce, complaint.</summary>
    Task<BounceCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// Which of <paramref name="recipientIds"/> (at most a few thousand) have at least one event of <paramref name="type"/>
    /// in the campaign: what the hard-bounce guard asks about the recipients of its window. One round trip.
    /// </summary>
    Task<IReadOnlySet<string>> FindRecipientsWithAsync(string campaignId, BounceType type, IReadOnlyCollection<string> recipientIds, CancellationToken cancellationToken);

    /// <summary>The ledger row <paramref name="row"/> (what a return-path token names), or null.</summary>
    Task<LedgerRecipient?> FindByRowAsync(long row, CancellationToken cancellationToken);

    /// <summary>The ledger row whose message carried this Message-ID (without angle brackets), or null.</summary>
    Task<LedgerRecipient?> FindByMessageIdAsync(string messageId, CancellationToken cancellationToken);

    /// <summary>The ledger row of a recipient id in a campaign, or null.</summary>
    Task<LedgerRecipient?> FindByRecipientIdAsync(string campaignId, string recipientId, CancellationToken cancellationToken);

    /// <summary>
    /// The ledger row of a normalized address: in <paramref name="campaignId"/> when given, else in the campaign that
    /// attempted it last. Only rows a sender attempted (sent, failed, in doubt) count. Null when none.
    /// </summary>
    Task<LedgerRecipient?> FindByEmailAsync(string email, string? campaignId, CancellationToken cancellationToken);

    /// <summary>Streams a campaign's <c>failed</c> rows that carry an SMTP reply: synchronous bounces, to apply the policy to.</summary>
    IAsyncEnumerable<SyncFailure> ReadSyncFailuresAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Records what a campaign file says about bounces (written by <c>send</c>), replacing what was there.</summary>
    Task SetCampaignSettingsAsync(CampaignBounceSettings settings, CancellationToken cancellationToken);

    /// <summary>What <see cref="SetCampaignSettingsAsync"/> recorded for a campaign, or null.</summary>
    Task<CampaignBounceSettings?> GetCampaignSettingsAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Every bounce domain a campaign of this store has used (lowercase, sorted).</summary>
    Task<IReadOnlyList<string>> ListDomainsAsync(CancellationToken cancellationToken);

    /// <summary>The store-wide policy (<c>herald bounces policy</c>); every field null when never set.</summary>
    Task<BouncePolicySettings> GetStorePolicyAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the store-wide policy.</summary>
    Task SetStorePolicyAsync(BouncePolicySettings settings, CancellationToken cancellationToken);
}

/// <summary>What a bounce or complaint says about the recipient.</summary>
public enum BounceType
{
    /// <summary>Permanent: the address does not exist or is disabled. Suppressed at once by default.</summary>
    Hard = 1,

    /// <summary>Temporary or not about the address (mailbox full, message refused for policy): suppressed after repeats.</summary>
    Soft = 2,

    /// <summary>The recipient marked the message as spam (ARF feedback report). Suppressed and counted as an unsubscribe.</summary>
    Complaint = 3,
}

/// <summary>How the event was learnt.</summary>
public enum BounceSource
{
    /// <summary>The relay's reply during the send (recorded in the ledger).</summary>
    Sync = 1,

    /// <summary>A delivery status notification (RFC 3464).</summary>
    Dsn = 2,

    /// <summary>A complaint feedback report (ARF, RFC 5965).</summary>
    Arf = 3,

    /// <summary>A non-standard bounce identified by the original message's headers (our Message-ID).</summary>
    Headers = 4,

    /// <summary>A non-standard bounce identified only by the return path it was sent to.</summary>
    Verp = 5,
}

/// <summary>Names as they appear in files, JSON and the database.</summary>
public static class BounceNames
{
    public static string ToName(this BounceType type) => type switch
    {
        BounceType.Hard => "hard",
        BounceType.Soft => "soft",
        BounceType.Complaint => "complaint",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static string ToName(this BounceSource source) => source switch
    {
        BounceSource.Sync => "sync",
        BounceSource.Dsn => "dsn",
        BounceSource.Arf => "arf",
        BounceSource.Headers => "headers",
        BounceSource.Verp => "verp",
        _ => throw new ArgumentOutOfRangeException(nameof(source)),
    };
}

/// <summary>One bounce or complaint of one recipient.</summary>
/// <param name="Id">Derived from the bounce's content and recipient, so processing the same bounce again adds nothing.</param>
/// <param name="At">When it happened (the report's date when plausible, else when it arrived), UTC.</param>
/// <param name="Email">The normalized address the campaign sent to.</param>
/// <param name="Code">The enhanced status code (<c>5.1.1</c>) when known, else the SMTP reply code (<c>550</c>); null for complaints.</param>
/// <param name="Text">The diagnostic (reply text, feedback type), at most 1,000 characters.</param>
public sealed record BounceEvent(
    Guid Id,
    DateTimeOffset At,
    string CampaignId,
    string RecipientId,
    string Email,
    BounceType Type,
    string? Code,
    string? Text,
    BounceSource Source);

/// <summary>Distinct recipients of a campaign per bounce type.</summary>
public sealed record BounceCounts(long Hard, long Soft, long Complaints);

/// <summary>One row of the delivery ledger, as the bounce processor needs it.</summary>
/// <param name="Row">The row id (what a return-path token carries).</param>
/// <param name="MessageId">The Message-ID of the recipient's email, without angle brackets.</param>
public sealed record LedgerRecipient(long Row, string CampaignId, string RecipientId, string Email, string MessageId);

/// <summary>A <c>failed</c> ledger row and the reply that failed it.</summary>
public sealed record SyncFailure(LedgerRecipient Recipient, int SmtpCode, string? SmtpText, DateTimeOffset At);

/// <summary>What to do with bounces and complaints; see <see cref="BouncePolicySettings"/> for how it is configured.</summary>
/// <param name="SuppressHard">A hard bounce suppresses the address at once (reason <c>bounced</c>).</param>
/// <param name="SoftLimit">This many soft bounces within <paramref name="SoftWindow"/> suppress the address; 0: never.</param>
/// <param name="SuppressComplaints">A complaint suppresses the address (reason <c>complained</c>) and counts as an unsubscribe.</param>
public sealed record BouncePolicy(bool SuppressHard, int SoftLimit, TimeSpan SoftWindow, bool SuppressComplaints)
{
    /// <summary>Hard: suppress; soft: 3 within 7 days; complaint: suppress.</summary>
    public static BouncePolicy Default { get; } = new(true, 3, TimeSpan.FromDays(7), true);
}

/// <summary>
/// A partial policy: what the store (<c>herald bounces policy</c>) or a campaign file sets; null fields are not set.
/// The effective policy is the built-in default, overridden by the store's settings, overridden by the campaign's.
/// </summary>
public sealed record BouncePolicySettings(bool? SuppressHard = null, int? SoftLimit = null, TimeSpan? SoftWindow = null, bool? SuppressComplaints = null)
{
    public static BouncePolicySettings None { get; } = new();

    /// <summary>The settings as a JSON object (how every backend stores them): only the fields that are set.</summary>
    public string ToJson()
    {
        var json = new System.Text.Json.Nodes.JsonObject();
        if (SuppressHard is { } hard)
        {
            json["suppress_hard"] = hard;
        }

        if (SoftLimit is { } limit)
        {
            json["soft_limit"] = limit;
        }

        if (SoftWindow is { } window)
        {
            json["soft_window_ms"] = (long)window.TotalMilliseconds;
        }

        if (SuppressComplaints is { } complaints)
        {
            json["suppress_complaints"] = complaints;
        }

        return json.ToJsonString();
    }

    /// <summary>Reads <see cref="ToJson"/>; unknown fields are ignored, a value of the wrong type reads as not set.</summary>
    public static BouncePolicySettings FromJson(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || System.Text.Json.Nodes.JsonNode.Parse(text) is not System.Text.Json.Nodes.JsonObject json)
        {
            return None;
        }

        return new BouncePolicySettings(
            Read<bool>(json, "suppress_hard"),
            Read<int>(json, "soft_limit"),
            Read<long>(json, "soft_window_ms") is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
            Read<bool>(json, "suppress_complaints"));
    }

    private static T? Read<T>(System.Text.Json.Nodes.JsonObject json, string name)
        where T : struct =>
        json[name] is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<T>(out var result) ? result : null;

    /// <summary><paramref name="policy"/> with the fields set here replaced.</summary>
    public BouncePolicy ApplyTo(BouncePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new BouncePolicy(
            SuppressHard ?? policy.SuppressHard,
            SoftLimit ?? policy.SoftLimit,
            SoftWindow ?? policy.SoftWindow,
            SuppressComplaints ?? policy.SuppressComplaints);
    }
}

/// <summary>A campaign's bounce settings as recorded in the store.</summary>
/// <param name="Domain">The return-path domain (lowercase), or null when the campaign uses no VERP.</param>
public sealed record CampaignBounceSettings(string CampaignId, string? Domain, BouncePolicySettings Policy);
