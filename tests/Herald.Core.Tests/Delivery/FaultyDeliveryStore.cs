using System.Collections.Concurrent;
using Herald.Store;

namespace Herald.Core.Tests.Delivery;

/// <summary>Which calls of the store a fault applies to.</summary>
public enum StoreCall
{
    Register,
    Recover,
    Claim,

    /// <summary>A group commit that carries at least one <c>sending</c> mark.</summary>
    CommitMarks,

    /// <summary>A group commit that carries outcomes and no mark.</summary>
    CommitOutcomes,
    Renew,
    Release,
    Counts,

    /// <summary>The check a sender with nothing due makes for unfinished rows before it ends the run.</summary>
    Unfinished,
    NextWork,
    Workers,
}

/// <summary>
/// Decorates a real store with the failures a real one has: transient errors on chosen calls, a store that is down
/// (every call fails, as a locked SQLite file or a PostgreSQL that restarts), and a commit that is applied but
/// reported failed (a connection lost while COMMIT's answer was on its way).
/// </summary>
internal sealed class FaultyDeliveryStore(IDeliveryStore inner) : IDeliveryStore
{
    private readonly ConcurrentDictionary<StoreCall, int> _failNext = new();
    private readonly ConcurrentDictionary<StoreCall, int> _calls = new();
    private int _applyThenFail;
    private int _downAfterMarkCommits = -1;
    private TimeSpan _downFor;
    private long _downUntilTicks;
    private volatile bool _down;
    private volatile bool _permanent;

    /// <summary>Set while every call fails.</summary>
    public bool IsDown => _down || Environment.TickCount64 < Interlocked.Read(ref _downUntilTicks);

    /// <summary>When the last outage started and ended (Environment.TickCount64), for the assertions.</summary>
    public (long Start, long End) LastOutage { get; private set; }

    /// <summary>Calls that failed because of a fault.</summary>
    public int Failures;

    /// <summary>The next <paramref name="count"/> calls of <paramref name="call"/> fail.</summary>
    public void FailNext(StoreCall call, int count, bool transient = true)
    {
        _failNext[call] = count;
        _permanent = !transient;
    }

    /// <summary>The next <paramref name="count"/> commits carrying marks are applied, then reported failed.</summary>
    public void ApplyThenFail(int count) => Volatile.Write(ref _applyThenFail, count);

    /// <summary>Goes down for <paramref name="duration"/> once <paramref name="commits"/> commits with marks went through (mid-send).</summary>
    public void GoDownAfter(int commits, TimeSpan duration)
    {
        _downFor = duration;
        Volatile.Write(ref _downAfterMarkCommits, commits);
    }

    /// <summary>Down until <see cref="Up"/>.</summary>
    public void Down()
    {
        LastOutage = (Environment.TickCount64, long.MaxValue);
        _down = true;
    }

    public void Up()
    {
        _down = false;
        LastOutage = (LastOutage.Start, Environment.TickCount64);
    }

    public int Calls(StoreCall call) => _calls.GetValueOrDefault(call);

    private void Enter(StoreCall call)
    {
        _calls.AddOrUpdate(call, 1, (_, n) => n + 1);
        if (IsDown)
        {
            Interlocked.Increment(ref Failures);
            throw new StoreException("database is locked (injected outage)", isTransient: true, sqlState: "SQLITE_BUSY");
        }

        while (_failNext.TryGetValue(call, out var left) && left > 0)
        {
            if (_failNext.TryUpdate(call, left - 1, left))
            {
                Interlocked.Increment(ref Failures);
                throw _permanent
                    ? new StoreException("no such column: lease_token (injected schema error)", isTransient: false, sqlState: "SQLITE_ERROR")
                    : new StoreException("connection reset (injected)", isTransient: true, sqlState: "08006");
            }
        }
    }

    private TaskCompletionSource? _gate;
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The next commit waits until the returned source is completed (requests pile up for the batch after it).</summary>
    public TaskCompletionSource HoldNextCommit()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _gate, gate);
        return gate;
    }

    /// <summary>Completes when the held commit has started (and is waiting for its gate).</summary>
    public Task CommitHeld => _held.Task;

    public async Task<CommitResult> CommitAsync(string workerId, IReadOnlyList<ClaimedRow> markSending, IReadOnlyList<Outcome> outcomes, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _gate, null) is { } gate)
        {
            _held.TrySetResult();
            await gate.Task.WaitAsync(cancellationToken);
        }

        var call = markSending.Count > 0 ? StoreCall.CommitMarks : StoreCall.CommitOutcomes;
        Enter(call);
        var result = await inner.CommitAsync(workerId, markSending, outcomes, cancellationToken);
        if (markSending.Count > 0)
        {
            if (Interlocked.Decrement(ref _downAfterMarkCommits) == 0)
            {
                LastOutage = (Environment.TickCount64, Environment.TickCount64 + (long)_downFor.TotalMilliseconds);
                Interlocked.Exchange(ref _downUntilTicks, LastOutage.End);
            }

            var left = Volatile.Read(ref _applyThenFail);
            if (left > 0 && Interlocked.CompareExchange(ref _applyThenFail, left - 1, left) == left)
            {
                Interlocked.Increment(ref Failures);
                throw new StoreException("connection lost while committing (injected; the commit went through)", isTransient: true, sqlState: "08006");
            }
        }

        return result;
    }

    public Task RegisterWorkerAsync(WorkerInfo worker, TimeSpan lease, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Register);
        return inner.RegisterWorkerAsync(worker, lease, cancellationToken);
    }

    public Task<RecoveryResult> RecoverAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Recover);
        return inner.RecoverAsync(campaignId, workerId, cancellationToken);
    }

    public Task<IReadOnlyList<WorkItem>> ClaimAsync(string campaignId, string workerId, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Claim);
        return inner.ClaimAsync(campaignId, workerId, max, lease, cancellationToken);
    }

    public Task<RenewResult> RenewLeaseAsync(string campaignId, string workerId, IReadOnlyList<ClaimedRow> held, TimeSpan lease, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Renew);
        return inner.RenewLeaseAsync(campaignId, workerId, held, lease, cancellationToken);
    }

    public Task ReleaseAsync(string workerId, IReadOnlyList<ClaimedRow> rows, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Release);
        return inner.ReleaseAsync(workerId, rows, cancellationToken);
    }

    public Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Counts);
        return inner.GetCountsAsync(campaignId, cancellationToken);
    }

    public Task<bool> HasUnfinishedAsync(string campaignId, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Unfinished);
        return inner.HasUnfinishedAsync(campaignId, cancellationToken);
    }

    public Task<NextWork> GetNextWorkAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        Enter(StoreCall.NextWork);
        return inner.GetNextWorkAsync(campaignId, workerId, cancellationToken);
    }

    public Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync(string campaignId, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Workers);
        return inner.ListWorkersAsync(campaignId, cancellationToken);
    }

    public Task UnregisterWorkerAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        Enter(StoreCall.Release);
        return inner.UnregisterWorkerAsync(campaignId, workerId, cancellationToken);
    }

    public Task MigrateAsync(CancellationToken cancellationToken) => inner.MigrateAsync(cancellationToken);

    public Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken) => inner.GetPlanAsync(campaignId, cancellationToken);

    public Task<IPlanWriter> BeginPlanAsync(string campaignId, string fingerprint, CancellationToken cancellationToken) => inner.BeginPlanAsync(campaignId, fingerprint, cancellationToken);

    public Task<int> ResetInDoubtAsync(string campaignId, CancellationToken cancellationToken) => inner.ResetInDoubtAsync(campaignId, cancellationToken);

    public Task<int> ResetFailedAsync(string campaignId, Func<int?, string?, bool> match, CancellationToken cancellationToken) =>
        inner.ResetFailedAsync(campaignId, match, cancellationToken);

    public Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken) => inner.ListCampaignsAsync(cancellationToken);

    public IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, CancellationToken cancellationToken) => inner.ReadPendingAsync(campaignId, limit, cancellationToken);

    public IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, CancellationToken cancellationToken) => inner.ReadRecipientsAsync(campaignId, cancellationToken);

    // The harness owns the real store.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
