namespace Herald.Store;

/// <summary>
/// The durable per-recipient ledger. One implementation per backend (SQLite embedded; PostgreSQL for several
/// senders); every backend passes the same contract tests. All state changes made by a sender are fenced by
/// its <c>workerId</c>: a row claimed by one worker cannot be marked or finished by another.
/// </summary>
public interface IDeliveryStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema.</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>The current plan of a campaign, or null when none was written.</summary>
    Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// Starts writing a new plan. Nothing is visible until <see cref="IPlanWriter.CommitAsync"/>; disposing without
    /// commit leaves the previous plan untouched. Throws <see cref="StoreException"/> when the campaign has already
    /// started sending (any row left <c>pending</c>/<c>skipped</c> is the only safe state to re-plan from).
    /// </summary>
    Task<IPlanWriter> BeginPlanAsync(string campaignId, string fingerprint, CancellationToken cancellationToken);

    /// <summary>
    /// Called once by a sender before it claims work: rows left in <c>sending</c> by a sender that is gone become
    /// <c>in_doubt</c>, and claims of gone senders are released. Returns how many rows became <c>in_doubt</c>.
    /// </summary>
    Task<int> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="max"/> due <c>pending</c> rows (next attempt time &lt;= now) for
    /// <paramref name="workerId"/> under a lease of <paramref name="lease"/>. Claimed rows stay <c>pending</c>
    /// until marked; a claim that expires is free for another worker.
    /// </summary>
    Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// One group commit, in one transaction: applies <paramref name="outcomes"/> (rows this worker holds in
    /// <c>sending</c>), then marks <paramref name="markSending"/> (rows this worker claimed, still <c>pending</c>)
    /// as <c>sending</c> with their attempt counted. Returns the ids actually marked; a row missing from the result
    /// was lost to another worker (its lease expired) and must not be sent. Durable when it returns.
    /// </summary>
    Task<IReadOnlySet<long>> CommitAsync(string workerId, IReadOnlyList<long> markSending, IReadOnlyList<Outcome> outcomes, CancellationToken cancellationToken);

    /// <summary>Extends the lease of every row this worker holds.</summary>
    Task RenewLeaseAsync(string campaignId, string workerId, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives back claimed rows that were not marked (graceful stop).</summary>
    Task ReleaseAsync(string workerId, IReadOnlyList<long> ids, CancellationToken cancellationToken);

    /// <summary>Counts per state.</summary>
    Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>The earliest next-attempt time among unclaimed <c>pending</c> rows, or null when none is pending.</summary>
    Task<DateTimeOffset?> GetNextDueAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>Operator decision: <c>in_doubt</c> rows become <c>pending</c> again (accepting duplicates). Returns the count.</summary>
    Task<int> ResetInDoubtAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// Operator decision (<c>herald retry --failed</c>): <c>failed</c> rows for which <paramref name="match"/> (given the
    /// row's SMTP code and text) is true become <c>pending</c> again, due now, with their attempts and first attempt time
    /// reset; their last reply is kept until the next attempt replaces it. Never duplicates a delivery: a failed row was
    /// refused. Returns the count.
    /// </summary>
    Task<int> ResetFailedAsync(string campaignId, Func<int?, string?, bool> match, CancellationToken cancellationToken);

    /// <summary>Ids of every campaign that has a plan in this store.</summary>
    Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads, without claiming or changing anything, up to <paramref name="limit"/> <c>pending</c> rows in plan order
    /// with their render context: what the next sends would render (used by preview).
    /// </summary>
    IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, CancellationToken cancellationToken);

    /// <summary>Streams every recipient of a campaign in plan order.</summary>
    IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, CancellationToken cancellationToken);
}

/// <summary>Writes a plan in batches; atomic on commit.</summary>
public interface IPlanWriter : IAsyncDisposable
{
    /// <summary>Adds rows, in plan order. The caller may reuse the memory behind each <see cref="PlanEntry.Context"/> once this returns.</summary>
    Task AddAsync(IReadOnlyList<PlanEntry> entries, CancellationToken cancellationToken);

    /// <summary>Replaces the campaign's previous plan with this one, atomically.</summary>
    Task CommitAsync(CancellationToken cancellationToken);
}

/// <summary>What is known of a campaign's plan.</summary>
public sealed record PlanInfo(string CampaignId, string Fingerprint, DateTimeOffset CreatedAt, long Rows, bool Started);

/// <summary>One recipient of a plan: <c>pending</c>, or <c>skipped</c> with a reason.</summary>
/// <param name="RecipientId">Stable id of the recipient within the campaign.</param>
/// <param name="Email">Normalized address.</param>
/// <param name="Context">Compact serialized render context (UTF-8 JSON object), empty for skipped rows.</param>
/// <param name="SkipReason">Null for a <c>pending</c> row; otherwise why it is skipped (<c>invalid</c>, <c>duplicate</c>, <c>suppressed</c>, <c>missing:NAME</c>).</param>
/// <param name="MessageId">The Message-ID this recipient's email carries.</param>
public sealed record PlanEntry(string RecipientId, string Email, ReadOnlyMemory<byte> Context, string? SkipReason, string MessageId);

/// <summary>A claimed recipient, ready to render.</summary>
public sealed record WorkItem(long Id, string RecipientId, string Email, ReadOnlyMemory<byte> Context, int Attempts, DateTimeOffset? FirstAttemptAt, string MessageId);

/// <summary>The outcome of one attempt.</summary>
/// <param name="Id">Row id.</param>
/// <param name="State">New state: <c>Sent</c>, <c>Failed</c>, <c>InDoubt</c>, <c>Skipped</c>, or <c>Pending</c> to retry at <paramref name="NextAttemptAt"/>.</param>
/// <param name="Uncounted">
/// With <c>Pending</c>: the attempt the <c>sending</c> mark counted is taken back (and, when it was the first, the first
/// attempt time cleared), because the relay or the sender was at fault, not the recipient: it must not bring the
/// recipient closer to <c>retry.max_attempts</c> or <c>give_up_after</c>.
/// </param>
public sealed record Outcome(long Id, DeliveryState State, int? SmtpCode, string? SmtpText, string? Relay, DateTimeOffset? NextAttemptAt = null, string? SkipReason = null, bool Uncounted = false);

/// <summary>Counts per state for one campaign.</summary>
public sealed record StateCounts(string Campaign, long Pending, long Sending, long Sent, long Failed, long InDoubt, long Skipped)
{
    public long Total => Pending + Sending + Sent + Failed + InDoubt + Skipped;

    public bool AllFinal => Pending == 0 && Sending == 0;
}

/// <summary>One recipient's ledger row, for reports and exports.</summary>
public sealed record RecipientRecord(
    long Id,
    string RecipientId,
    string Email,
    DeliveryState State,
    int Attempts,
    int? SmtpCode,
    string? SmtpText,
    string? Relay,
    string MessageId,
    string? SkipReason,
    DateTimeOffset? UpdatedAt);
