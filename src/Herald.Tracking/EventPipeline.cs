using System.Threading.Channels;
using Herald.Store;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>
/// Takes events from request handlers without waiting and writes them to the store in batches, at the latest every
/// <see cref="TrackingServerOptions.FlushInterval"/>. When the store fails, batches go to the spool file; the spool
/// is replayed when the store answers again, and on start. Stopping the server writes everything still buffered.
/// </summary>
internal sealed partial class EventPipeline : IHostedService, IAsyncDisposable
{
    private readonly Channel<TrackingEvent> _channel = Channel.CreateUnbounded<TrackingEvent>();
    private readonly TrackingServerOptions _options;
    private readonly ITrackingStore _store;
    private readonly EventSpool _spool;
    private readonly TrackingMetrics _metrics;
    private readonly ILogger<EventPipeline> _logger;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Queue<TaskCompletionSource> _flushes = new();
    private readonly Lock _flushGate = new();
    private readonly List<TrackingEvent> _backlog = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private bool _spoolPending;
    private DateTimeOffset _nextStoreAttempt;

    public EventPipeline(TrackingServerOptions options, TrackingMetrics metrics, ILogger<EventPipeline> logger)
    {
        _options = options;
        _store = options.Store;
        _spool = new EventSpool(options.SpoolPath);
        _metrics = metrics;
        _logger = logger;
    }

    public long Pending => _channel.Reader.Count + _backlog.Count;

    public void Record(TrackingEvent e)
    {
        // Unbounded: TryWrite only fails after shutdown, when the response no longer matters.
        if (_channel.Writer.TryWrite(e))
        {
            _metrics.Buffered();
        }
    }

    /// <summary>Writes everything recorded so far (to the store, or the spool) and returns when that is done.</summary>
    public Task FlushAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_flushGate)
        {
            _flushes.Enqueue(done);
        }

        _wake.Release();
        return done.Task.WaitAsync(cancellationToken);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _spoolPending = _spool.HasEvents;
        if (_spoolPending)
        {
            await TryReplayAsync().ConfigureAwait(false);
        }

        // A dedicated thread: under load the thread pool is busy answering redirects, and a writer queued behind them
        // would fall behind without bound. The SQLite provider's async calls complete synchronously on this thread.
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(_stop.Token);
                done.TrySetResult();
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "herald-event-writer",
        };
        thread.Start();
        _loop = done.Task;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _channel.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_loop is not null && !_loop.IsCompleted)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        _stop.Dispose();
        _wake.Dispose();
    }

    private void Run(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.FlushInterval, _options.Time);
        Task? tick = null;
        Task? wake = null;
        while (!stop.IsCancellationRequested)
        {
            tick ??= timer.WaitForNextTickAsync(stop).AsTask();
            wake ??= _wake.WaitAsync(stop);
            var fired = Task.WaitAny([tick, wake], CancellationToken.None) == 0 ? tick : wake;
            if (fired == tick)
            {
                tick = null;
            }
            else
            {
                wake = null;
            }

            DrainAsync().GetAwaiter().GetResult();
        }

        // Shutdown: whatever is still buffered is written (or spooled) before the process exits.
        DrainAsync().GetAwaiter().GetResult();
    }

    private async Task DrainAsync()
    {
        // Take the flush requests first: every event recorded before a request is already in the channel.
        List<TaskCompletionSource>? flushes = null;
        lock (_flushGate)
        {
            while (_flushes.TryDequeue(out var flush))
            {
                (flushes ??= []).Add(flush);
            }
        }

        try
        {
            var batch = new List<TrackingEvent>(_backlog);
            _backlog.Clear();
            while (_channel.Reader.TryRead(out var e))
            {
                batch.Add(e);
                if (batch.Count >= _options.MaxBatch)
                {
                    await WriteAsync(batch).ConfigureAwait(false);
                    batch = [];
                }
            }

            if (batch.Count > 0 || _spoolPending)
            {
                await WriteAsync(batch).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var flush in flushes ?? [])
            {
                flush.TrySetResult();
            }
        }
    }

    private async Task WriteAsync(List<TrackingEvent> batch)
    {
        if (_spoolPending && !await TryReplayAsync().ConfigureAwait(false))
        {
            Spool(batch);
            return;
        }

        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            await _store.AppendEventsAsync(batch, CancellationToken.None).ConfigureAwait(false);
            _metrics.Written(batch.Count);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.StoreError();
            LogStoreFailed(_logger, batch.Count, _spool.Path, ex.Message);
            _nextStoreAttempt = _options.Time.GetUtcNow() + _options.StoreRetryInterval;
            Spool(batch);
        }
    }

    private void Spool(List<TrackingEvent> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            _spool.Append(batch);
            _spoolPending = true;
            _metrics.Spooled(batch.Count);
        }
        catch (IOException ex)
        {
            // Neither the store nor the disk takes them: keep them in memory and try both again next round.
            LogSpoolFailed(_logger, batch.Count, _spool.Path, ex.Message);
            _backlog.AddRange(batch);
        }
        catch (UnauthorizedAccessException ex)
        {
            LogSpoolFailed(_logger, batch.Count, _spool.Path, ex.Message);
            _backlog.AddRange(batch);
        }
    }

    /// <summary>Moves the spool into the store; false when the store is still unavailable (or it is not yet time to ask).</summary>
    private async Task<bool> TryReplayAsync()
    {
        if (_options.Time.GetUtcNow() < _nextStoreAttempt)
        {
            return false;
        }

        try
        {
            var spooled = _spool.ReadAll();
            for (var i = 0; i < spooled.Count; i += _options.MaxBatch)
            {
                var chunk = spooled.GetRange(i, Math.Min(_options.MaxBatch, spooled.Count - i));
                await _store.AppendEventsAsync(chunk, CancellationToken.None).ConfigureAwait(false);
            }

            _spool.Delete();
            _spoolPending = false;
            _metrics.Replayed(spooled.Count);
            _metrics.Written(spooled.Count);
            LogReplayed(_logger, spooled.Count, _spool.Path);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.StoreError();
            _nextStoreAttempt = _options.Time.GetUtcNow() + _options.StoreRetryInterval;
            LogReplayFailed(_logger, _spool.Path, ex.Message);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "store unavailable, {Count} events spooled to {Path}: {Reason}")]
    private static partial void LogStoreFailed(ILogger logger, int count, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot spool {Count} events to {Path}, keeping them in memory: {Reason}")]
    private static partial void LogSpoolFailed(ILogger logger, int count, string path, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "replayed {Count} spooled events from {Path}")]
    private static partial void LogReplayed(ILogger logger, int count, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "store still unavailable, keeping the spool {Path}: {Reason}")]
    private static partial void LogReplayFailed(ILogger logger, string path, string reason);
}
