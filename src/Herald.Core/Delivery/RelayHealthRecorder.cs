using Herald.Store;

namespace Herald.Delivery;

/// <summary>
/// Writes relay health changes to the store for <c>herald status</c>, off the send path: changes are coalesced per
/// relay and written by one background loop; a store that fails keeps the latest change for the next try (health is
/// what status shows, never what delivery decides).
/// </summary>
internal sealed class RelayHealthRecorder : IAsyncDisposable
{
    private static readonly TimeSpan Coalesce = TimeSpan.FromMilliseconds(200);
    private readonly ICampaignStateStore? _store;
    private readonly string _campaignId;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, RelayHealth> _pending = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public RelayHealthRecorder(ICampaignStateStore? store, string campaignId)
    {
        _store = store;
        _campaignId = campaignId;
        _loop = store is null ? Task.CompletedTask : Task.Run(RunAsync);
    }

    public void Record(RelayHealth health)
    {
        if (_store is null)
        {
            return;
        }

        lock (_lock)
        {
            _pending[health.Name] = health;
        }

        _signal.Release();
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _signal.WaitAsync(_stop.Token).ConfigureAwait(false);
                await Task.Delay(Coalesce, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            while (_signal.CurrentCount > 0 && _signal.Wait(0, CancellationToken.None))
            {
                // One write covers every change signalled so far.
            }

            await FlushAsync(_stop.Token).ConfigureAwait(false);
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        List<RelayHealth> batch;
        lock (_lock)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            batch = [.. _pending.Values];
            _pending.Clear();
        }

        try
        {
            await _store!.SaveRelayHealthAsync(_campaignId, batch, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreException or OperationCanceledException)
        {
            lock (_lock)
            {
                foreach (var health in batch)
                {
                    _pending.TryAdd(health.Name, health);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (_store is not null)
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await FlushAsync(bound.Token).ConfigureAwait(false);
        }

        _stop.Dispose();
        _signal.Dispose();
    }
}
