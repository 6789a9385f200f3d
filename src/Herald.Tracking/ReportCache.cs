using System.Collections.Concurrent;
using System.Diagnostics;
using Herald.Store;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>
/// The dashboard's reports. A small campaign's report (fewer than <see cref="FreshLimit"/> recipients and events) is
/// computed for every request, so what a page shows is never older than the request. A large one is served from memory and
/// recomputed in the background once it is older than ten times what it took (at least
/// <see cref="TrackingServerOptions.ReportRefreshInterval"/>), so a campaign page answers at once and keeping a large
/// campaign live stays a small share of the machine. One report is computed at a time: the tracking endpoints share
/// these cores. Every computation has a time limit and stops with the server.
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

    /// <summary>
    /// Recipients plus events below which a report is recomputed for each request (a fraction of a second) rather than
    /// served from memory. Size, not the last computation's time, decides: a first computation is slowed by warm-up.
    /// </summary>
    public const long FreshLimit = 200_000;

    /// <summary>The newest report of a campaign, or null when none was computed yet.</summary>
    public CachedReport? Peek(string campaignId) => _entries.TryGetValue(campaignId, out var entry) ? entry.Latest : null;

    /// <summary>
    /// The report for a request: one computed after the request arrived when reports of this campaign are cheap, else
    /// the cached one while the refresh policy allows it. Joins a computation that is already running rather than
    /// starting a second. Bounded by <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task<CachedReport> GetAsync(string campaignId, CancellationToken cancellationToken)
    {
        var asked = _options.Time.GetUtcNow();
        var entry = _entries.GetOrAdd(campaignId, static _ => new Entry());
        Task<CachedReport>? first;
        lock (entry)
        {
            first = entry.Latest is null && entry.Running is { IsCompleted: false } running ? running : null;
        }

        if (first is not null)
        {
            // Nothing computed yet and the first computation (the warm-up) under way: a large campaign takes its result
            // rather than queueing a second one behind it (the first visit would wait twice a report's time).
            await ((Task)first.WaitAsync(cancellationToken)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
            if (first.IsCompletedSuccessfully && Size(first.Result.Report) >= FreshLimit)
            {
                return first.Result;
            }
        }

        if (entry.Latest is { } latest && (latest.StartedAt >= asked || (Size(latest.Report) >= FreshLimit && !IsStale(latest))))
        {
            return latest;
        }

        return await RefreshAsync(campaignId, entry, asked).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a refresh when the cached report is stale; never waits for it.</summary>
    public void RefreshIfStale(string campaignId)
    {
        var entry = _entries.GetOrAdd(campaignId, static _ => new Entry());
        if (entry.Latest is null || IsStale(entry.Latest))
        {
            _ = RefreshAsync(campaignId, entry, DateTimeOffset.MinValue);
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
            foreach (var task in (Task?[])[entry.Queued, entry.Running])
            {
                if (task is not null)
                {
                    await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _oneAtATime.Dispose();
    }

    private IReportStore Store => _options.Reports ?? throw new InvalidOperationException("The dashboard needs a report store.");

    private static long Size(CampaignReport report) => report.Delivery.Total + report.Raw.Opens + report.Raw.Clicks + report.Raw.Unsubscribes;

    private bool IsStale(CachedReport report)
    {
        var age = _options.Time.GetUtcNow() - report.ComputedAt;
        var interval = Size(report.Report) < FreshLimit
            ? _options.ReportRefreshInterval
            : TimeSpan.FromTicks(Math.Max(_options.ReportRefreshInterval.Ticks, report.Took.Ticks * 10));
        return age >= interval;
    }

    /// <summary>
    /// A computation that starts at or after <paramref name="notBefore"/>: the running one when it qualifies, else the one
    /// queued behind it (every request arriving meanwhile joins that one), else a new one.
    /// </summary>
    private Task<CachedReport> RefreshAsync(string campaignId, Entry entry, DateTimeOffset notBefore)
    {
        lock (entry)
        {
            if (entry.Queued is { } queued)
            {
                return queued;
            }

            if (entry.Running is { IsCompleted: false } running && entry.RunningSince >= notBefore)
            {
                return running;
            }

            var previous = entry.Running is { IsCompleted: false } busy ? busy : null;
            var task = previous is null ? StartAsync() : QueueAsync(previous);
            if (previous is not null)
            {
                entry.Queued = task;
            }

            return task;

            async Task<CachedReport> QueueAsync(Task<CachedReport> before)
            {
                // Reads made after the running computation started must be seen: wait for it, then start anew.
                await ((Task)before).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
                Task<CachedReport> next;
                lock (entry)
                {
                    entry.Queued = null;
                    next = StartAsync();
                }

                return await next.ConfigureAwait(false);
            }

            Task<CachedReport> StartAsync()
            {
                var started = Task.Run(() => ComputeCachedAsync(campaignId, entry), CancellationToken.None);
                entry.Running = started;
                entry.RunningSince = _options.Time.GetUtcNow();
                return started;
            }
        }
    }

    private async Task<CachedReport> ComputeCachedAsync(string campaignId, Entry entry)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        limit.CancelAfter(_options.ReportTimeLimit);
        await _oneAtATime.WaitAsync(limit.Token).ConfigureAwait(false);
        try
        {
            var startedAt = _options.Time.GetUtcNow();
            var started = Stopwatch.GetTimestamp();
            var report = await CampaignReportBuilder.BuildAsync(Store, new EventWindow(campaignId), _options.Engagement, null, _options.Time, limit.Token)
                .ConfigureAwait(false);
            var cached = new CachedReport(report, CampaignReportFormats.ToJson(report, indented: false), startedAt, _options.Time.GetUtcNow(),
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
        public DateTimeOffset RunningSince;
        public Task<CachedReport>? Queued;
        public long Version;
    }
}

/// <summary>A computed report, its JSON, when its computation started and ended, and how long it took.</summary>
internal sealed record CachedReport(CampaignReport Report, string Json, DateTimeOffset StartedAt, DateTimeOffset ComputedAt, TimeSpan Took, long Version);
