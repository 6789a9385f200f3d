using System.Threading.Channels;
using Herald.Store;

namespace Herald.Delivery;

/// <summary>What became of a <c>sending</c> mark.</summary>
internal enum MarkResult
{
    /// <summary>Durable: the message may go out.</summary>
    Marked,

    /// <summary>Refused: another worker holds the row now (or recovery settled it). Never send it.</summary>
    Lost,

    /// <summary>
    /// The commit failed: the mark may or may not be durable (a connection lost during COMMIT hides which). Nothing may
    /// be sent under it; <see cref="Ledger.RevertAsync"/> settles it once the store answers.
    /// </summary>
    NotWritten,
}

/// <summary>
/// Group commit: marks and outcomes from every connection are collected while the previous transaction runs and
/// written together in the next one, so the store sees one transaction per batch, never one per email. A commit that
/// fails transiently fails its marks (nothing is sent under a mark that is not known durable) and keeps its outcomes,
/// retried with backoff until the store answers; a failure that is not transient is kept in <see cref="Fatal"/> for
/// the run to stop with.
/// </summary>
internal sealed class Ledger : IAsyncDisposable
{
    private const int MaxBatch = 1024;
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(2);
    private readonly IDeliveryStore _store;
    private readonly string _workerId;
    private readonly StoreGuard _guard;
    private readonly TimeProvider _time;
    private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationToken _abandon;
    private readonly Task _loop;
    private StoreException? _fatal;

    /// <param name="abandon">Cancelled when the run ends with the store unavailable: what is not yet written is left for the next run's recovery.</param>
    public Ledger(IDeliveryStore store, string workerId, StoreGuard guard, TimeProvider time, CancellationToken abandon)
    {
        _store = store;
        _workerId = workerId;
        _guard = guard;
        _time = time;
        _abandon = abandon;
        _loop = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>Transactions committed so far (for measurements).</summary>
    public long Commits { get; private set; }

    /// <summary>True once the ledger gave up writing (the run ended with the store unavailable).</summary>
    public bool Abandoned { get; private set; }

    /// <summary>A failure that retrying cannot fix (schema, permission): the run stops with it.</summary>
    public StoreException? Fatal => Volatile.Read(ref _fatal);

    /// <summary>Called with the ids the store refused (lost to another worker), after each commit.</summary>
    public Action<IReadOnlyList<long>>? OnLost { get; init; }

    /// <summary>Marks the row <c>sending</c>; the message may go out only on <see cref="MarkResult.Marked"/>.</summary>
    public Task<MarkResult> MarkSendingAsync(ClaimedRow row)
    {
        var request = new Request(row, null, Revert: false);
        return _requests.Writer.TryWrite(request) ? request.Mark.Task : Task.FromResult(MarkResult.NotWritten);
    }

    /// <summary>Queues an outcome; completes when it is durable (true) or refused because the row was lost (false).</summary>
    public Task<bool> RecordAsync(Outcome outcome)
    {
        var request = new Request(outcome.Claimed, outcome, Revert: false);
        if (!_requests.Writer.TryWrite(request))
        {
            throw new InvalidOperationException("The ledger is closed.");
        }

        return request.Done.Task;
    }

    /// <summary>
    /// Settles a mark that was <see cref="MarkResult.NotWritten"/>, once the store answers: a row that is
    /// <c>sending</c> under our token (the mark was durable after all) goes back to <c>pending</c>, due at once; nothing
    /// was sent under it. True when that happened (the row is back in the pool, no longer ours); false when the mark
    /// had not been written (the row is still ours, <c>pending</c>: it may be marked again) or the row was lost.
    /// </summary>
    public Task<bool> RevertAsync(WorkItem item, DateTimeOffset now)
    {
        var outcome = new Outcome(item.Id, item.Token, DeliveryState.Pending, null, "not sent: the store failed while marking it", null, now);
        var request = new Request(item.Claimed, outcome, Revert: true);
        return _requests.Writer.TryWrite(request) ? request.Done.Task : Task.FromResult(false);
    }

    private async Task RunAsync()
    {
        var marks = new List<Request>(MaxBatch);
        var outcomes = new List<Request>(MaxBatch);
        // The store answers per row id. Two requests for one row in one batch (a stale claim's and the current one's,
        // after the lease ran out and the row was claimed again) would share one answer: the stale connection would
        // read the current claim's "marked" and send too. So a batch holds one request per row; the next waits a batch.
        var rows = new HashSet<long>();
        var deferred = new Queue<Request>();
        var reader = _requests.Reader;
        while (deferred.Count > 0 || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var waiting = deferred.Count;
            for (var i = 0; i < waiting && marks.Count + outcomes.Count < MaxBatch; i++)
            {
                Add(deferred.Dequeue());
            }

            while (marks.Count + outcomes.Count < MaxBatch && reader.TryRead(out var request))
            {
                Add(request);
            }

            await CommitAsync(marks, outcomes).ConfigureAwait(false);
            marks.Clear();
            outcomes.Clear();
            rows.Clear();
        }

        void Add(Request request)
        {
            if (!rows.Add(request.Row.Id))
            {
                deferred.Enqueue(request);
                return;
            }

            (request.Outcome is null ? marks : outcomes).Add(request);
        }
    }

    private async Task CommitAsync(List<Request> marks, List<Request> outcomes)
    {
        var backoff = FirstBackoff;
        while (true)
        {
            if (_abandon.IsCancellationRequested || _guard.OutageExpired)
            {
                // The run ended with the store unavailable: these rows stay `sending` (in_doubt after the next
                // recovery) or claimed (released by it); nothing is sent twice.
                Abandoned = true;
                Complete(marks, outcomes, MarkResult.NotWritten, recorded: false);
                return;
            }

            try
            {
                CommitResult result;
                _guard.Enter();
                try
                {
                    result = await _store.CommitAsync(
                        _workerId,
                        marks.ConvertAll(m => m.Row),
                        outcomes.ConvertAll(o => o.Outcome!),
                        CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    _guard.Exit();
                }

                Commits++;
                _guard.Succeeded();
                var lost = result.Lost.Count == 0 ? null : result.Lost.ToHashSet();
                foreach (var mark in marks)
                {
                    mark.Mark.TrySetResult(result.Marked.Contains(mark.Row.Id) ? MarkResult.Marked : MarkResult.Lost);
                }

                foreach (var outcome in outcomes)
                {
                    outcome.Done.TrySetResult(lost is null || !lost.Contains(outcome.Row.Id));
                }

                // A revert that was refused is no loss: its mark had simply not been written.
                var reported = result.Lost.Where(id => !outcomes.Any(o => o.Revert && o.Row.Id == id)).ToList();
                if (reported.Count > 0)
                {
                    OnLost?.Invoke(reported);
                }

                return;
            }
            catch (StoreException ex)
            {
                // A mark that could not be written is not sent; the connection settles it with RevertAsync.
                foreach (var mark in marks)
                {
                    mark.Mark.TrySetResult(MarkResult.NotWritten);
                }

                marks.Clear();
                if (!ex.IsTransient)
                {
                    Volatile.Write(ref _fatal, ex);
                }
                else
                {
                    try
                    {
                        _guard.Failed(ex);
                    }
                    catch (StoreOutageException)
                    {
                        // The run sees the expired outage itself and abandons what is left.
                    }
                }

                // Outcomes are kept and retried: their rows are `sending` and would otherwise end in_doubt.
                try
                {
                    await Task.Delay(backoff, _time, _abandon).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Abandoned: handled at the top of the loop.
                }

                backoff = backoff * 2 < LastBackoff ? backoff * 2 : LastBackoff;
            }
        }
    }

    private static void Complete(List<Request> marks, List<Request> outcomes, MarkResult mark, bool recorded)
    {
        foreach (var request in marks)
        {
            request.Mark.TrySetResult(mark);
        }

        foreach (var request in outcomes)
        {
            request.Done.TrySetResult(recorded);
        }
    }

    /// <summary>Writes what is queued (retrying while the store is unavailable, until abandoned or the outage deadline), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _requests.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private sealed record Request(ClaimedRow Row, Outcome? Outcome, bool Revert)
    {
        public TaskCompletionSource<MarkResult> Mark { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
