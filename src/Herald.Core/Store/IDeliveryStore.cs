namespace Herald.Store;

/// <summary>
/// The durable per-recipient ledger (contract v2: several senders). One implementation per backend (SQLite embedded,
/// one sender per campaign; PostgreSQL for any number of senders); every backend passes the same contract tests.
/// <para>
/// Every claim carries a <b>fencing token</b>, a number from a sequence that is larger for every new claim. Every
/// state change a sender makes (the <c>sending</c> mark, an outcome, a release, a renewal) is conditional on the row
/// still carrying that token, so a worker whose lease expired can neither mark nor finish a row another worker now
/// owns. Which transitions exist is <see cref="LedgerTransitions"/>. Times that decide leases come from the store's
/// clock, never the sender's. Every failure is a <see cref="StoreException"/> that says whether it is transient.
/// </para>
/// </summary>
public interface IDeliveryStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema; safe when several processes migrate at once.</summary>
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
    /// Enters a sender in the campaign's workers registry (or refreshes its entry) with a lease of
    /// <paramref name="lease"/>. On a backend that allows one sender per campaign (SQLite) this is where a second one
    /// is refused with a <see cref="StoreException"/>.
    /// </summary>
    Task RegisterWorkerAsync(WorkerInfo worker, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Removes a sender from the registry (it stopped); its rows must have been finished or released.</summary>
    Task UnregisterWorkerAsync(string campaignId, string workerId, CancellationToken cancellationToken);

    /// <summary>The campaign's registered senders, live or with an expired lease that still holds rows.</summary>
    Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// Recovery per lease, safe to repeat and to run by any live worker at any time: rows held by a peer whose lease
    /// expired are settled (a <c>pending</c> claim returns to the pool; a <c>sending</c> row becomes <c>in_doubt</c>,
    /// never resent automatically). Rows of live workers, and of <paramref name="workerId"/> itself, are never touched.
    /// </summary>
    Task<RecoveryResult> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="max"/> due <c>pending</c> rows (next attempt due, nobody holding them) for
    /// <paramref name="workerId"/> under a lease of <paramref name="lease"/>, in plan order. Every row of one claim
    /// carries the same new fencing token (<see cref="WorkItem.Token"/>). Claimed rows stay <c>pending</c> until
    /// marked. Concurrent claims never return the same row.
    /// </summary>
    Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// One group commit, in one transaction: applies <paramref name="outcomes"/>, then marks
    /// <paramref name="markSending"/> <c>sending</c> with their attempt counted. Each change applies only while the row
    /// carries the given token (and, for a mark, its lease is live). Durable when it returns. Rows refused are in
    /// <see cref="CommitResult.Lost"/>: a mark refused must not be sent.
    /// </summary>
    Task<CommitResult> CommitAsync(string workerId, IReadOnlyList<ClaimedRow> markSending, IReadOnlyList<Outcome> outcomes, CancellationToken cancellationToken);

    /// <summary>
    /// Heartbeat: extends to <paramref name="lease"/> from now the lease of every row in <paramref name="held"/> that
    /// still carries its token, and the worker's registry entry. Returns the rows that were lost (another worker took
    /// them, or recovery settled them): the caller drops them unsent.
    /// </summary>
    Task<RenewResult> RenewLeaseAsync(string campaignId, string workerId, IReadOnlyList<ClaimedRow> held, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Gives back claimed rows that were not marked (graceful stop); a row no longer carrying its token is left alone.</summary>
    Task ReleaseAsync(string workerId, IReadOnlyList<ClaimedRow> rows, CancellationToken cancellationToken);

    /// <summary>Counts per state.</summary>
    Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// Whether any row of the campaign is still <c>pending</c> or <c>sending</c> (the campaign is not finished):
    /// what a sender with nothing due asks each time it waits, so the store answers from its work index without
    /// counting the campaign's rows as <see cref="GetCountsAsync"/> does.
    /// </summary>
    Task<bool> HasUnfinishedAsync(string campaignId, CancellationToken cancellationToken);

    /// <summary>
    /// When there may next be work for <paramref name="workerId"/>: the earliest next attempt among unheld
    /// <c>pending</c> rows, and the earliest lease expiry among <c>pending</c>/<c>sending</c> rows held by other
    /// workers (what a worker waits for instead of exiting early or spinning), with the store's own clock.
    /// </summary>
    Task<NextWork> GetNextWorkAsync(string campaignId, string workerId, CancellationToken cancellationToken);

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
/// <param name="Token">The fencing token of the claim that returned it; every later change of the row names it.</param>
public sealed record WorkItem(long Id, string RecipientId, string Email, ReadOnlyMemory<byte> Context, int Attempts, DateTimeOffset? FirstAttemptAt, string MessageId, long Token = 0)
{
    /// <summary>The row as its claimant names it to the store.</summary>
    public ClaimedRow Claimed => new(Id, Token);
}

/// <summary>A row and the fencing token of the claim that holds it.</summary>
public readonly record struct ClaimedRow(long Id, long Token);

/// <summary>The outcome of one attempt.</summary>
/// <param name="Id">Row id.</param>
/// <param name="Token">The fencing token of the claim under which the attempt was made.</param>
/// <param name="State">New state: <c>Sent</c>, <c>Failed</c>, <c>InDoubt</c>, <c>Skipped</c>, or <c>Pending</c> to retry at <paramref name="NextAttemptAt"/>.</param>
/// <param name="Uncounted">
/// With <c>Pending</c>: the attempt the <c>sending</c> mark counted is taken back (and, when it was the first, the first
/// attempt time cleared), because the relay or the sender was at fault, not the recipient: it must not bring the
/// recipient closer to <c>retry.max_attempts</c> or <c>give_up_after</c>.
/// </param>
public sealed record Outcome(long Id, long Token, DeliveryState State, int? SmtpCode, string? SmtpText, string? Relay, DateTimeOffset? NextAttemptAt = null, string? SkipReason = null, bool Uncounted = false)
{
    /// <summary>The row as its claimant names it to the store.</summary>
    public ClaimedRow Claimed => new(Id, Token);
}

/// <summary>What one group commit did.</summary>
/// <param name="Marked">Ids marked <c>sending</c>: only these may be sent.</param>
/// <param name="Lost">Ids of marks and outcomes refused because the row no longer carries the caller's token (or its lease ran out before the mark).</param>
public sealed record CommitResult(IReadOnlySet<long> Marked, IReadOnlyList<long> Lost)
{
    public static CommitResult Empty { get; } = new(new HashSet<long>(), []);
}

/// <summary>What a lease renewal did.</summary>
/// <param name="Lost">Ids of the held rows that no longer carry their token: another worker took them, or recovery settled them.</param>
/// <param name="LeaseUntil">Until when the renewed rows are held (store clock).</param>
public sealed record RenewResult(IReadOnlyList<long> Lost, DateTimeOffset LeaseUntil);

/// <summary>What one recovery pass did.</summary>
/// <param name="InDoubt">Rows left <c>sending</c> under an expired lease that became <c>in_doubt</c>.</param>
/// <param name="Released">Expired claims on <c>pending</c> rows returned to the pool.</param>
public sealed record RecoveryResult(int InDoubt, int Released);

/// <summary>When there may next be work (see <see cref="IDeliveryStore.GetNextWorkAsync"/>); all times from the store's clock.</summary>
/// <param name="Now">The store's clock when this was read; wait for <c>time - Now</c>, never against the local clock.</param>
/// <param name="NextAttemptAt">Earliest next attempt among unheld <c>pending</c> rows; null when there is none.</param>
/// <param name="PeerLeaseExpiresAt">Earliest lease expiry among <c>pending</c>/<c>sending</c> rows held by other workers; null when peers hold nothing.</param>
public sealed record NextWork(DateTimeOffset Now, DateTimeOffset? NextAttemptAt, DateTimeOffset? PeerLeaseExpiresAt)
{
    /// <summary>The earlier of the two, or null when neither exists.</summary>
    public DateTimeOffset? Earliest => (NextAttemptAt, PeerLeaseExpiresAt) switch
    {
        ({ } a, { } b) => a < b ? a : b,
        ({ } a, null) => a,
        (null, { } b) => b,
        _ => null,
    };
}

/// <summary>Who a sender is, for the workers registry.</summary>
public sealed record WorkerInfo(string CampaignId, string WorkerId, string Host, int ProcessId)
{
    /// <summary>This process as a worker of <paramref name="campaignId"/>.</summary>
    public static WorkerInfo ForThisProcess(string campaignId, string workerId) =>
        new(campaignId, workerId, Environment.MachineName, Environment.ProcessId);
}

/// <summary>One sender of a campaign as the registry knows it (times from the store's clock).</summary>
/// <param name="RowsHeld">Rows it holds (<c>pending</c> claimed or <c>sending</c>) under its current token.</param>
/// <param name="Live">False once its lease expired: its rows are taken over by the next recovery.</param>
public sealed record WorkerStatus(
    string WorkerId,
    string Host,
    int ProcessId,
    DateTimeOffset StartedAt,
    DateTimeOffset LastRenewalAt,
    DateTimeOffset LeaseUntil,
    long RowsHeld,
    bool Live);

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
