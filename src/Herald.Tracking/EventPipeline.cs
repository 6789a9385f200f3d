using System.Globalization;
using Herald.Store;
using Herald.Tracking.Journal;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>
/// Every event a request records is in this server's journal (a local append-only file) before the request is
/// answered; a dedicated thread moves the journal to the store in batches and deletes what is stored. When the store
/// is unavailable, events wait in the journal (bounded by <see cref="JournalOptions.MaxBytes"/>) and the store is
/// tried again every <see cref="TrackingServerOptions.StoreRetryInterval"/>. The same thread moves the journals that
/// servers which are gone left in the folder (on start, then every <see cref="JournalOptions.AdoptInterval"/>).
/// </summary>
internal sealed partial class EventPipeline : IHostedService, IAsyncDisposable
{
    private readonly TrackingServerOptions _options;
    private readonly JournalOptions _journalOptions;
    private readonly ITrackingStore _store;
    private readonly TrackingMetrics _metrics;
    private readonly ILogger<EventPipeline> _logger;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _flushGate = new();
    private readonly List<FlushRequest> _flushes = [];
    private readonly List<AdoptedJournal> _adopted = [];
    private readonly HashSet<string> _held = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private EventJournal? _journal;
    private Thread? _thread;
    private volatile bool _stopping;
    private volatile bool _adoptNow;
    private long _storeFailures;
    private long _adoptScans;
    private DateTimeOffset _nextStoreAttempt;
    private DateTimeOffset? _unavailableSince;
    private DateTimeOffset _lastOutageLog;
    private int _refusing;
    private int _stopCalled;

    public EventPipeline(TrackingServerOptions options, TrackingMetrics metrics, ILogger<EventPipeline> logger)
    {
        _options = options;
        _journalOptions = options.Journal;
        _store = options.Store;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Events in the journal that are not yet in the store.</summary>
    public long Pending => _journal?.PendingEvents ?? 0;

    /// <summary>Events written to the journal since start.</summary>
    public long Journaled => _journal?.WrittenEvents ?? 0;

    /// <summary>Bytes of this server's journal on disk.</summary>
    public long JournalBytes => _journal?.Bytes ?? 0;

    /// <summary>Why tracking requests are refused now (journal full, disk full), or null.</summary>
    public string? Problem => _journal is null ? "starting" : _journal.Problem;

    /// <summary>The journal files of this server (for logs and tests).</summary>
    public string? JournalLockPath => _journal?.LockPath;

    /// <summary>
    /// Writes <paramref name="e"/> to the journal with the next group; true once it is there, false when the journal
    /// refused it (the request must then fail, never be answered as recorded).
    /// </summary>
    public Task<bool> RecordAsync(TrackingEvent e)
    {
        var journal = _journal;
        if (journal is null)
        {
            return Task.FromResult(false);
        }

        var written = journal.AppendAsync(e, out var refusal);
        if (refusal != JournalRefusal.None)
        {
            Refused(refusal);
            return written;
        }

        return written.IsCompleted ? WrittenOrRefused(written) : AwaitWriteAsync(written);
    }

    private Task<bool> WrittenOrRefused(Task<bool> written)
    {
        if (!written.Result)
        {
            Refused(JournalRefusal.WriteFailed);
        }

        return written;
    }

    private async Task<bool> AwaitWriteAsync(Task<bool> written)
    {
        if (await written.ConfigureAwait(false))
        {
            return true;
        }

        Refused(JournalRefusal.WriteFailed);
        return false;
    }

    private void Refused(JournalRefusal refusal)
    {
        _metrics.Refused();
        if (refusal != JournalRefusal.Stopped && Interlocked.Exchange(ref _refusing, 1) == 0)
        {
            LogRefusing(_logger, _journal?.Problem ?? refusal.ToString());
        }
    }

    /// <summary>
    /// Returns once every event journaled before the call is in the store, or the store failed after the call (the
    /// events then wait in the journal). Journals of gone servers found in the folder are moved first.
    /// </summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        var request = new FlushRequest(Journaled, Interlocked.Read(ref _storeFailures), Interlocked.Read(ref _adoptScans));
        lock (_flushGate)
        {
            _flushes.Add(request);
        }

        _adoptNow = true;
        _wake.Release();
        return request.Done.Task.WaitAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _journal = EventJournal.Open(_journalOptions, NewInstanceId());
        LogJournal(_logger, _journal.LockPath);
        // A dedicated thread: under load the thread pool is busy answering requests, and a mover queued behind them would
        // fall behind without bound. The SQLite provider's async calls complete synchronously on this thread.
        _thread = new Thread(Run) { IsBackground = true, Name = "herald-event-mover" };
        _thread.Start();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Called after the web server stopped taking requests: the journal's last group is written, then the store gets
    /// what it can within <see cref="TrackingServerOptions.StopGrace"/>. What it cannot take stays in the journal for the
    /// next server; a clean stop with everything stored leaves no file behind.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_journal is null || _thread is null || Interlocked.Exchange(ref _stopCalled, 1) == 1)
        {
            return;
        }

        _journal.Complete();
        _stopping = true;
        _wake.Release();
        var finished = await Task.WhenAny(_done.Task, Task.Delay(_options.StopGrace + TimeSpan.FromSeconds(1), CancellationToken.None)).ConfigureAwait(false) == _done.Task;
        if (finished)
        {
            _journal.Dispose();
            if (_journal.PendingEvents > 0)
            {
                LogLeftInJournal(_logger, _journal.PendingEvents, _journal.Directory);
            }
        }
        else
        {
            // A store call is stuck (a locked database waits for its busy timeout); the events are in the journal, which
            // stays for the next server, and the lock goes with this process.
            LogLeftInJournal(_logger, _journal.PendingEvents, _journal.Directory);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_done.Task.IsCompleted)
        {
            _wake.Dispose();
        }
    }

    private static string NewInstanceId()
    {
        var host = string.Concat(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-'));
        return string.Create(CultureInfo.InvariantCulture, $"{host}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
    }

    private void Run()
    {
        try
        {
            Move();
        }
        finally
        {
            foreach (var adopted in _adopted)
            {
                adopted.Dispose();
            }

            _adopted.Clear();
            lock (_flushGate)
            {
                foreach (var flush in _flushes)
                {
                    flush.Done.TrySetResult();
                }

                _flushes.Clear();
            }

            _done.TrySetResult();
        }
    }

    private void Move()
    {
        var journal = _journal!;
        var nextAdopt = DateTimeOffset.MinValue;
        DateTimeOffset? stopDeadline = null;
        JournalBatch? own = null;
        while (true)
        {
            var now = _options.Time.GetUtcNow();
            if (_stopping)
            {
                if (stopDeadline is null)
                {
                    // One more try at once, even when the store failed a moment ago.
                    stopDeadline = now + _options.StopGrace;
                    _nextStoreAttempt = DateTimeOffset.MinValue;
                }
            }
            else if (now >= nextAdopt || _adoptNow)
            {
                _adoptNow = false;
                var scan = Interlocked.Read(ref _adoptScans);
                Adopt();
                Interlocked.Exchange(ref _adoptScans, scan + 1);
                nextAdopt = now + _journalOptions.AdoptInterval;
            }

            var failuresBefore = Interlocked.Read(ref _storeFailures);
            var worked = false;
            if (now >= _nextStoreAttempt)
            {
                try
                {
                    // This server's own events first; journals of gone servers when it is caught up.
                    own ??= journal.ReadBatch(_options.MaxBatch);
                    if (own is not null)
                    {
                        if (own.Events.Count == 0 || TryStore(own.Events))
                        {
                            journal.MarkStored(own);
                            _metrics.Written(own.Events.Count);
                            own = null;
                            worked = true;
                        }
                    }
                    else if (!_stopping && _adopted.Count > 0)
                    {
                        worked = MoveAdopted();
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Reading or deleting a journal file failed; the events are still there: try again a moment later.
                    LogJournalReadFailed(_logger, _journalOptions.Directory, ex.Message);
                    _nextStoreAttempt = now + TimeSpan.FromSeconds(1);
                }
            }

            journal.Refresh();
            if (journal.Problem is null)
            {
                Interlocked.Exchange(ref _refusing, 0);
            }

            var failed = Interlocked.Read(ref _storeFailures) != failuresBefore;
            CompleteFlushes(journal);
            if (_stopping && ((own is null && journal.PendingEvents == 0) || failed || now >= stopDeadline))
            {
                return;
            }

            if (!worked)
            {
                var wait = _options.FlushInterval;
                var untilRetry = _nextStoreAttempt - now;
                if (untilRetry > wait)
                {
                    wait = untilRetry < TimeSpan.FromSeconds(1) ? untilRetry : TimeSpan.FromSeconds(1);
                }

                _wake.Wait(wait);
            }
        }
    }

    private bool MoveAdopted()
    {
        var adopted = _adopted[0];
        var batch = adopted.ReadBatch(_options.MaxBatch);
        if (batch is null)
        {
            adopted.Dispose();
            _adopted.RemoveAt(0);
            _held.Remove(adopted.InstanceId);
            LogAdoptedDone(_logger, adopted.InstanceId);
            return true;
        }

        if (batch.Events.Count > 0 && !TryStore(batch.Events))
        {
            return false;
        }

        adopted.MarkStored(batch);
        _metrics.Replayed(batch.Events.Count);
        _metrics.Written(batch.Events.Count);
        return true;
    }

    private void Adopt()
    {
        try
        {
            foreach (var dead in AdoptedJournal.FindDead(_journalOptions.Directory, _journal!.InstanceId, _held, _journalOptions.LegacySpoolPath))
            {
                _held.Add(dead.InstanceId);
                _adopted.Add(dead);
                LogAdopting(_logger, dead.InstanceId, _journalOptions.Directory);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogAdoptFailed(_logger, _journalOptions.Directory, ex.Message);
        }
    }

    private bool TryStore(List<TrackingEvent> events)
    {
        try
        {
            _store.AppendEventsAsync(events, CancellationToken.None).GetAwaiter().GetResult();
            if (_unavailableSince is { } since)
            {
                LogStoreBack(_logger, (_options.Time.GetUtcNow() - since).TotalSeconds, Pending);
                _unavailableSince = null;
            }

            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var now = _options.Time.GetUtcNow();
            _metrics.StoreError();
            Interlocked.Increment(ref _storeFailures);
            var retry = _options.StoreRetryInterval > _options.FlushInterval ? _options.StoreRetryInterval : _options.FlushInterval;
            _nextStoreAttempt = now + retry;
            if (_unavailableSince is null || now - _lastOutageLog >= TimeSpan.FromMinutes(1))
            {
                _unavailableSince ??= now;
                _lastOutageLog = now;
                LogStoreFailed(_logger, Pending, _journalOptions.Directory, ex.Message);
            }

            return false;
        }
    }

    private void CompleteFlushes(EventJournal journal)
    {
        lock (_flushGate)
        {
            for (var i = _flushes.Count - 1; i >= 0; i--)
            {
                var flush = _flushes[i];
                var stored = journal.StoredEvents >= flush.Target && _adopted.Count == 0 && Interlocked.Read(ref _adoptScans) > flush.AdoptScansAtRequest;
                if (stored || Interlocked.Read(ref _storeFailures) > flush.FailuresAtRequest)
                {
                    flush.Done.TrySetResult();
                    _flushes.RemoveAt(i);
                }
            }
        }
    }

    private sealed record FlushRequest(long Target, long FailuresAtRequest, long AdoptScansAtRequest)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "event journal: {Path}")]
    private static partial void LogJournal(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "store unavailable, {Count} events wait in the journal in {Path}: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, long count, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "store available again after {Seconds:F0} s; moving {Count} journaled events")]
    private static partial void LogStoreBack(ILogger logger, double seconds, long count);

    [LoggerMessage(Level = LogLevel.Error, Message = "refusing tracking requests (503): {Reason}")]
    private static partial void LogRefusing(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "moving the events of {Instance}, a server that is gone, from {Path}")]
    private static partial void LogAdopting(ILogger logger, string instance, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "the events of {Instance} are in the store; its journal is deleted")]
    private static partial void LogAdoptedDone(ILogger logger, string instance);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cannot search {Path} for journals of servers that are gone: {Reason}")]
    private static partial void LogAdoptFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot read the event journal in {Path}, trying again: {Reason}")]
    private static partial void LogJournalReadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} events are not yet in the store; they stay in the journal in {Path} for the next server")]
    private static partial void LogLeftInJournal(ILogger logger, long count, string path);
}
