using System.Collections.Concurrent;
using System.Diagnostics;
using Herald.Store;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>
/// The dashboard's reports, computed in the background and served from memory, so a campaign page answers at once
/// even when its report takes seconds at a million recipients. A report is refreshed when someone asks for it and it
/// is older than ten times what it took to compute (at least <see cref="TrackingServerOptions.ReportRefreshInterval"/>),
/// so the cost of keeping a large campaign live stays a small share of the machine. One report is computed at a time:
/// the tracking endpoints share these cores. Every computation has a time limit and stops with the server.
/// </summary>
internal sealed partial class ReportCache : IHostedService, IDisposable
{
    private readonly TrackingServerOptions _options;
    private readonly ILogger<ReportCache> _logger;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task _warmUp = Task.CompletedTask;

    public ReportCache(TrackingServerOptions options, ILogger<ReportCache> logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>The newest report of a campaign, or null when none was computed yet.</summary>
    public CachedReport? Peek(string campaignId) => _entries.TryGetValue(campaignId, out var entry) ? entry.Latest : null;

    /// <summary>
    /// A report no older than the refresh policy allows: the cached one when fresh, else a new one (waiting for a
    /// computation already running rather than starting a second). Bounded by <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task<CachedReport> GetAsync(string campaignId, CancellationToken cancellationToken)
    {
        var entry = _entries.GetOrAdd(campaignId, static _ => new Entry());
        if (entry.Latest is { } latest && !IsStale(latest))
        {
            return latest;
        }

        return await RefreshAsync(campaignId, entry).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a refresh when the cached report is stale; never waits for it.</summary>
    public void RefreshIfStale(string campaignId)
    {
        var entry = _entries.GetOrAdd(campaignId, static _ => new Entry());
        if (entry.Latest is null || IsStale(entry.Latest))
        {
            _ = RefreshAsync(campaignId, entry);
        }
    }

    /// <summary>A report of a date range: not cached, computed under the same one-at-a-time rule and time limit.</summary>
    public async Task<CampaignReport> ComputeAsync(EventWindow window, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        linked.CancelAfter(_options.ReportTimeLimit);
        await _oneAtATime.WaitAsync(linked.Token).ConfigureAwait(false);
        try
        {
            return await CampaignReportBuilder.BuildAsync(Store, window, _options.Engagement, null, _options.Time, linked.Token).ConfigureAwait(false);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Reports is not null && _options.DashboardToken is not null)
        {
            // Compute every campaign's report once, newest first, so the first visit finds them ready.
            _warmUp = Task.Run(WarmUpAsync, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _warmUp.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        foreach (var entry in _entries.Values)
        {
            if (entry.Running is { } running)
            {
                await ((Task)running).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _oneAtATime.Dispose();
    }

    private IReportStore Store => _options.Reports ?? throw new InvalidOperationException("The dashboard needs a report store.");

    private bool IsStale(CachedReport report)
    {
        var age = _options.Time.GetUtcNow() - report.ComputedAt;
        var interval = TimeSpan.FromTicks(Math.Max(_options.ReportRefreshInterval.Ticks, report.Took.Ticks * 10));
        return age >= interval;
    }

    private Task<CachedReport> RefreshAsync(string campaignId, Entry entry)
    {
        lock (entry)
        {
            if (entry.Running is { IsCompleted: false } running)
            {
                return running;
            }

            var task = Task.Run(() => ComputeCachedAsync(campaignId, entry), CancellationToken.None);
            entry.Running = task;
            return task;
        }
    }

    private async Task<CachedReport> ComputeCachedAsync(string campaignId, Entry entry)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        limit.CancelAfter(_options.ReportTimeLimit);
        await _oneAtATime.WaitAsync(limit.Token).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            var report = await CampaignReportBuilder.BuildAsync(Store, new EventWindow(campaignId), _options.Engagement, null, _options.Time, limit.Token)
                .ConfigureAwait(false);
            var cached = new CachedReport(report, CampaignReportFormats.ToJson(report, indented: false), _options.Time.GetUtcNow(),
                Stopwatch.GetElapsedTime(started), Interlocked.Increment(ref entry.Version));
            entry.Latest = cached;
            return cached;
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            LogTooSlow(_logger, campaignId, _options.ReportTimeLimit.TotalSeconds);
            throw new TimeoutException($"The report of '{campaignId}' took longer than {_options.ReportTimeLimit.TotalSeconds:0} s.");
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private async Task WarmUpAsync()
    {
        try
        {
            var campaigns = await Store.ListCampaignsAsync(_stopping.Token).ConfigureAwait(false);
            foreach (var campaign in campaigns.OrderByDescending(c => c.LastEventAt ?? c.PlannedAt ?? DateTimeOffset.MinValue))
            {
                await GetAsync(campaign.CampaignId, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The server is stopping.
        }
        catch (Exception ex) when (ex is HeraldException or TimeoutException)
        {
            LogWarmUpFailed(_logger, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the report of {Campaign} took longer than its {Seconds} s limit; the dashboard shows the previous one")]
    private static partial void LogTooSlow(ILogger logger, string campaign, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "could not prepare the dashboard's reports: {Reason}")]
    private static partial void LogWarmUpFailed(ILogger logger, string reason);

    private sealed class Entry
    {
        public volatile CachedReport? Latest;
        public Task<CachedReport>? Running;
        public long Version;
    }
}

/// <summary>A computed report, its JSON, when it was computed and how long that took.</summary>
internal sealed record CachedReport(CampaignReport Report, string Json, DateTimeOffset ComputedAt, TimeSpan Took, long Version);
