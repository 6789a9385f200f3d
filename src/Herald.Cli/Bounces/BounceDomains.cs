using Herald.Store;

namespace Herald.Cli.Bounces;

/// <summary>
/// The domains the receiver accepts: those given on the command line, and every bounce domain a campaign of the store
/// registered (read again every few seconds, so a campaign sent after the receiver started is accepted too).
/// </summary>
internal sealed class BounceDomains(IReadOnlyList<string> configured, IBounceStore store, TimeProvider time, TimeSpan refresh)
{
    private readonly HashSet<string> _configured = new(configured.Select(d => d.ToLowerInvariant()), StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private HashSet<string> _fromStore = new(StringComparer.Ordinal);
    private long _refreshedAt = long.MinValue;

    public BounceDomains(IReadOnlyList<string> configured, IBounceStore store, TimeSpan refresh)
        : this(configured, store, TimeProvider.System, refresh)
    {
    }

    public async Task<bool> AcceptsAsync(string host, CancellationToken cancellationToken)
    {
        var domain = host.Trim().TrimEnd('.').ToLowerInvariant();
        if (_configured.Contains(domain))
        {
            return true;
        }

        return (await FromStoreAsync(cancellationToken).ConfigureAwait(false)).Contains(domain);
    }

    /// <summary>Every accepted domain now, for the start-up line.</summary>
    public async Task<IReadOnlyList<string>> AllAsync(CancellationToken cancellationToken) =>
        [.. _configured.Union(await FromStoreAsync(cancellationToken).ConfigureAwait(false)).Order(StringComparer.Ordinal)];

    private async Task<HashSet<string>> FromStoreAsync(CancellationToken cancellationToken)
    {
        if (time.GetElapsedTime(Volatile.Read(ref _refreshedAt)) < refresh && _refreshedAt != long.MinValue)
        {
            return _fromStore;
        }

        await _refreshing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_refreshedAt == long.MinValue || time.GetElapsedTime(_refreshedAt) >= refresh)
            {
                try
                {
                    _fromStore = new HashSet<string>(await store.ListDomainsAsync(cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
                    Volatile.Write(ref _refreshedAt, time.GetTimestamp());
                }
                catch (StoreException) when (_refreshedAt != long.MinValue)
                {
                    // The store is down: keep answering with the last list; the message itself will get a 451.
                }
            }

            return _fromStore;
        }
        finally
        {
            _refreshing.Release();
        }
    }
}
