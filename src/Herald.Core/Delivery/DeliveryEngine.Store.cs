using System.Collections.Concurrent;
using Herald.Store;

namespace Herald.Delivery;

/// <summary>
/// The store side of a run: every call through the <see cref="StoreGuard"/> (transient failures retried, a long
/// outage pauses sending and ends the run past its deadline), lease renewal that drops what was lost, recovery of
/// peers' expired leases repeated while the run lasts, and what the progress line shows of the store and the workers.
/// </summary>
public sealed partial class DeliveryEngine
{
    // An SMTP server may drop a client idle this long (RFC 5321 asks servers to wait at least 5 minutes): a connection
    // that waited this long for the store is closed politely (QUIT) and opened again when sending resumes.
    private static readonly TimeSpan IdleConnectionLimit = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);
    // Counting a campaign's rows reads all of them (on PostgreSQL mid-send ~1 s per million, heap and all): the
    // refresh waits this many times what the last count took, so that it never costs the store more than ~5 %.
    private const int RefreshCostFactor = 20;
    // A count that waited out a store outage says nothing about counting: never wait longer than this.
    private static readonly TimeSpan SlowestRefresh = TimeSpan.FromSeconds(30);
    private long _refreshEveryTicks = RefreshInterval.Ticks;
    private StoreGuard _guard = null!;
    // Rows this worker lost to another (or to recovery), by (id, token): counted once however many times reported.
    private readonly ConcurrentDictionary<ClaimedRow, byte> _lost = new();
    // Rows whose outcome is on its way to the store (see Finish).
    private readonly ConcurrentDictionary<ClaimedRow, byte> _finishing = new();
    private long _recoveredLater;
    private long _refreshedAt = long.MinValue;
    private long _recoveredAt = long.MinValue;
    private volatile CountsBase? _countsBase;
    private volatile IReadOnlyList<WorkerStatus> _workers = [];

    /// <summary>Rows of this run that another worker took over (or recovery settled) before this one finished them; never sent by this one.</summary>
    public long LostRows => _lost.Count;

    private StoreGuard NewGuard() => _guard = new StoreGuard(_options.StoreOutageTimeout, _time);

    /// <summary>
    /// Marks the item <c>sending</c>; true when the message may go out. Waits while the store is unavailable (and
    /// closes an idle connection politely when that takes long); a mark the store refused drops the row (lost); a mark
    /// whose commit failed is settled once the store answers and the row is tried again or returned to the pool.
    /// </summary>
    private async Task<bool> MarkAsync(WorkItem item, Ledger ledger, RelayConnection connection, CancellationToken stopToken)
    {
        var waited = _time.GetTimestamp();
        try
        {
            await _guard.WaitAvailableAsync(stopToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or StoreOutageException)
        {
            PutBack(item);
            _wake.Release();
            return false;
        }

        if (_time.GetElapsedTime(waited) >= IdleConnectionLimit)
        {
            // Start again with a fresh connection rather than find out at MAIL FROM that the relay hung up.
            await connection.DisconnectAsync().ConfigureAwait(false);
            PutBack(item);
            return false;
        }

        switch (await ledger.MarkSendingAsync(item.Claimed).ConfigureAwait(false))
        {
            case MarkResult.Marked:
                return true;
            case MarkResult.Lost:
                // Another worker owns it now (our lease ran out): never send what we do not own.
                Lost(item.Claimed);
                Drop(item);
                return false;
            default:
                // Nothing was sent. Whether the mark is durable is unknown until the store answers: settle it first.
                if (await ledger.RevertAsync(item, _time.GetUtcNow()).ConfigureAwait(false))
                {
                    Drop(item);
                }
                else
                {
                    PutBack(item);
                }

                _wake.Release();
                return false;
        }
    }

    /// <summary>The row is no longer this worker's business (lost, or back in the pool).</summary>
    private void Drop(WorkItem item)
    {
        _held.TryRemove(KeyValuePair.Create(item.Id, item.Claimed));
        Interlocked.Decrement(ref _outstanding);
        _wake.Release();
    }

    private void Lost(ClaimedRow row)
    {
        _lost.TryAdd(row, 0);
        // Renewals stop naming it; an entry for a newer claim of the same row stays.
        _held.TryRemove(KeyValuePair.Create(row.Id, row));
    }

    private void LostIds(IReadOnlyList<long> ids)
    {
        foreach (var id in ids)
        {
            if (_held.TryGetValue(id, out var row))
            {
                Lost(row);
            }
        }
    }

    private async Task RenewLeasesAsync(CancellationToken stopToken)
    {
        var period = _options.Lease / 3;
        // After a failed renewal the next one comes sooner: the lease keeps running out while the store is away, and
        // the first renewal after it returns must come before it does.
        var retry = period < TimeSpan.FromSeconds(1) ? period : TimeSpan.FromSeconds(1);
        var wait = period;
        while (!stopToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, _time, stopToken).ConfigureAwait(false);
                wait = retry;
                var held = _held.Values.ToList();
                var renewed = await _store.RenewLeaseAsync(_campaign.Id, _options.WorkerId, held, _options.Lease, stopToken).ConfigureAwait(false);
                _guard.Succeeded();
                wait = period;
                var lost = renewed.Lost.ToHashSet();
                // A row finished meanwhile (its outcome cleared the claim) is not found by the renewal either: only rows
                // still held under the same claim and not being finished were taken by another.
                foreach (var row in held.Where(r => lost.Contains(r.Id) && !_finishing.ContainsKey(r)
                    && _held.TryGetValue(r.Id, out var current) && current == r))
                {
                    // Dropped unsent: its mark (or outcome) will be refused too; counted once.
                    Lost(row);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (StoreException ex) when (ex.IsTransient)
            {
                // Try again next period; marks are fenced, so a lapsed lease can only stop us, never duplicate.
                try
                {
                    _guard.Failed(ex);
                }
                catch (StoreOutageException)
                {
                    // The feeder ends the run.
                }
            }
            catch (StoreException)
            {
                // Not transient: the next claim or commit meets it too and stops the run with its message.
            }
        }
    }

    /// <summary>
    /// What the feeder does about the store: twice per lease (or as soon as a peer's lease ran out), recovery of
    /// peers' expired leases; at most once a second, and less often when counting is slow, the campaign's counts
    /// (every worker's progress) and the live workers.
    /// </summary>
    private async Task RefreshAsync(bool peerLeaseExpired, CancellationToken stopToken)
    {
        var now = _time.GetTimestamp();
        var recover = peerLeaseExpired || _time.GetElapsedTime(Interlocked.Read(ref _recoveredAt), now) >= _options.Lease / 2;
        var refresh = peerLeaseExpired || _time.GetElapsedTime(Interlocked.Read(ref _refreshedAt), now).Ticks >= Interlocked.Read(ref _refreshEveryTicks);
        if (recover)
        {
            Interlocked.Exchange(ref _recoveredAt, now);
            var recovered = await _guard.CallAsync(ct => _store.RecoverAsync(_campaign.Id, _options.WorkerId, ct), stopToken).ConfigureAwait(false);
            Interlocked.Add(ref _recoveredLater, recovered.InDoubt);
        }

        if (!refresh)
        {
            return;
        }

        Interlocked.Exchange(ref _refreshedAt, now);
        var own = OwnCounts();
        var started = _time.GetTimestamp();
        var counts = await _guard.CallAsync(ct => _store.GetCountsAsync(_campaign.Id, ct), stopToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _refreshEveryTicks, Math.Clamp(_time.GetElapsedTime(started).Ticks * RefreshCostFactor, RefreshInterval.Ticks, SlowestRefresh.Ticks));
        _countsBase = new CountsBase(counts, own);
        _workers = await _guard.CallAsync(ct => _store.ListWorkersAsync(_campaign.Id, ct), stopToken).ConfigureAwait(false);
    }

    private (long Sent, long Failed, long InDoubt, long Skipped) OwnCounts() =>
        (Interlocked.Read(ref _sent), Interlocked.Read(ref _failed), Interlocked.Read(ref _inDoubt), Interlocked.Read(ref _skipped));

    /// <summary>The campaign's counts as of the last refresh plus what this worker finished since.</summary>
    private (long Total, long Sent, long Failed, long InDoubt, long Skipped) CurrentCounts(StateCounts initial)
    {
        var own = OwnCounts();
        if (_countsBase is not { } b)
        {
            return (initial.Total, initial.Sent + own.Sent, initial.Failed + own.Failed, initial.InDoubt + own.InDoubt, initial.Skipped + own.Skipped);
        }

        return (b.Counts.Total,
            b.Counts.Sent + own.Sent - b.Own.Sent,
            b.Counts.Failed + own.Failed - b.Own.Failed,
            b.Counts.InDoubt + own.InDoubt - b.Own.InDoubt,
            b.Counts.Skipped + own.Skipped - b.Own.Skipped);
    }

    /// <summary>
    /// The end of a run, whatever the store's state: rows never sent go back to the pool and the worker leaves the
    /// registry, one attempt each (a store that is down now gets them from the next run's recovery), then the final
    /// counts, or the last known ones.
    /// </summary>
    private async Task<StateCounts> SettleAsync(List<ClaimedRow> unsent)
    {
        try
        {
            await _store.ReleaseAsync(_options.WorkerId, unsent, CancellationToken.None).ConfigureAwait(false);
            await _store.UnregisterWorkerAsync(_campaign.Id, _options.WorkerId, CancellationToken.None).ConfigureAwait(false);
            return await _store.GetCountsAsync(_campaign.Id, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StoreException)
        {
            var p = Snapshot();
            return new StateCounts(_campaign.Id, p.Remaining, 0, p.Sent, p.Failed, p.InDoubt, p.Skipped);
        }
    }

    private sealed record CountsBase(StateCounts Counts, (long Sent, long Failed, long InDoubt, long Skipped) Own);
}
