using System.Collections.Frozen;
using Herald.Store;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>
/// Which campaigns exist, from the ledger, cached: a hit costs a set lookup; a miss reloads the list at most once per
/// refresh interval. Without a ledger, or when it cannot be read, every signed campaign is accepted so that clicks keep
/// redirecting (their events are spooled) while the database is away.
/// </summary>
internal sealed partial class CampaignDirectory
{
    private readonly IDeliveryStore? _ledger;
    private readonly TrackingServerOptions _options;
    private readonly ILogger<CampaignDirectory> _logger;
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile FrozenSet<string> _known = FrozenSet<string>.Empty;
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;

    public CampaignDirectory(TrackingServerOptions options, ILogger<CampaignDirectory> logger)
    {
        _ledger = options.Ledger;
        _options = options;
        _logger = logger;
    }

    public ValueTask<bool> IsKnownAsync(string campaignId, CancellationToken cancellationToken)
    {
        if (_ledger is null || _known.Contains(campaignId))
        {
            return ValueTask.FromResult(true);
        }

        return new ValueTask<bool>(ReloadAndCheckAsync(campaignId, cancellationToken));
    }

    private async Task<bool> ReloadAndCheckAsync(string campaignId, CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_options.Time.GetUtcNow() - _loadedAt >= _options.CampaignRefreshInterval)
            {
                _known = (await _ledger!.ListCampaignsAsync(cancellationToken).ConfigureAwait(false)).ToFrozenSet(StringComparer.Ordinal);
                _loadedAt = _options.Time.GetUtcNow();
            }

            return _known.Contains(campaignId);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogLedgerUnavailable(_logger, ex.Message);
            return true;
        }
        finally
        {
            _reload.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot read the campaign list, accepting every signed token: {Reason}")]
    private static partial void LogLedgerUnavailable(ILogger logger, string reason);
}
