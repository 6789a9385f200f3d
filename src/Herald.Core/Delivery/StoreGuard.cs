using System.Globalization;
using Herald.Store;

namespace Herald.Delivery;

/// <summary>The store stayed unavailable past the outage deadline; the run ends (nothing lost, resumable).</summary>
internal sealed class StoreOutageException(string message, Exception? inner) : HeraldException(message, inner);

/// <summary>
/// Every store call of a run goes through here: a transient failure (<see cref="StoreException.IsTransient"/>:
/// connection lost, failover, a locked SQLite file) is retried with backoff, for as long as the store has been
/// unavailable for less than the outage deadline; past it, <see cref="StoreOutageException"/>. Any other failure
/// (schema, permission) is thrown at once: it needs a person. The guard also says, for the progress line, whether the
/// store is unavailable and why, counting a call that has been waiting a while as unavailable too (SQLite waits out
/// its busy timeout inside the call).
/// </summary>
internal sealed class StoreGuard
{
    private static readonly TimeSpan SlowCall = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(2);
    private readonly TimeSpan _outageTimeout;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private DateTimeOffset? _unavailableSince;
    private string? _lastError;
    private long _inFlight;
    private long _oldestCallTicks = long.MaxValue;
    private TaskCompletionSource _available = NewAvailable(completed: true);

    public StoreGuard(TimeSpan outageTimeout, TimeProvider time)
    {
        _outageTimeout = outageTimeout;
        _time = time;
    }

    /// <summary>Since when the store has been failing, or null while it answers.</summary>
    public DateTimeOffset? UnavailableSince
    {
        get
        {
            lock (_gate)
            {
                return _unavailableSince;
            }
        }
    }

    /// <summary>True once the store has been unavailable for the whole outage deadline.</summary>
    public bool OutageExpired => UnavailableSince is { } since && _time.GetUtcNow() - since >= _outageTimeout;

    /// <summary>Why sending is paused for the store, for the progress line; null while the store answers in time.</summary>
    public string? Problem
    {
        get
        {
            var now = _time.GetUtcNow();
            lock (_gate)
            {
                if (_unavailableSince is { } since)
                {
                    return string.Create(CultureInfo.InvariantCulture, $"store unavailable for {(now - since).TotalSeconds:F0}s, sending paused: {_lastError}");
                }

                var oldest = Interlocked.Read(ref _oldestCallTicks);
                if (Interlocked.Read(ref _inFlight) > 0 && oldest != long.MaxValue && now.UtcTicks - oldest >= SlowCall.Ticks)
                {
                    return string.Create(CultureInfo.InvariantCulture, $"store not answering for {TimeSpan.FromTicks(now.UtcTicks - oldest).TotalSeconds:F0}s, sending paused");
                }

                return null;
            }
        }
    }

    /// <summary>The last failure's message, for the final error.</summary>
    public string? LastError
    {
        get
        {
            lock (_gate)
            {
                return _lastError;
            }
        }
    }

    /// <summary>Runs <paramref name="call"/>, retrying transient failures until it succeeds or the outage deadline passes.</summary>
    public async Task<T> CallAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var backoff = FirstBackoff;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Enter();
            try
            {
                var result = await call(cancellationToken).ConfigureAwait(false);
                Succeeded();
                return result;
            }
            catch (StoreException ex) when (ex.IsTransient)
            {
                Failed(ex);
            }
            finally
            {
                Exit();
            }

            await Task.Delay(backoff, _time, cancellationToken).ConfigureAwait(false);
            backoff = backoff * 2 < LastBackoff ? backoff * 2 : LastBackoff;
        }
    }

    public Task CallAsync(Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        CallAsync(async ct =>
        {
            await call(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>A store call starts (made here or by the group commit loop): one that takes long shows in <see cref="Problem"/>.</summary>
    public void Enter()
    {
        Interlocked.Increment(ref _inFlight);
        InterlockedMin(ref _oldestCallTicks, _time.GetUtcNow().UtcTicks);
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            Interlocked.Exchange(ref _oldestCallTicks, long.MaxValue);
        }
    }

    /// <summary>A call made elsewhere (the group commit loop) succeeded: the store answers.</summary>
    public void Succeeded()
    {
        TaskCompletionSource? wake = null;
        lock (_gate)
        {
            if (_unavailableSince is not null)
            {
                _unavailableSince = null;
                wake = _available;
            }
        }

        wake?.TrySetResult();
    }

    /// <summary>
    /// A transient failure: the outage starts (or goes on). Throws <see cref="StoreOutageException"/> once it has
    /// lasted the whole deadline.
    /// </summary>
    public void Failed(StoreException failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var now = _time.GetUtcNow();
        DateTimeOffset since;
        lock (_gate)
        {
            if (_unavailableSince is null)
            {
                _unavailableSince = now;
                _available = NewAvailable(completed: false);
            }

            _lastError = failure.Message;
            since = _unavailableSince.Value;
        }

        if (now - since >= _outageTimeout)
        {
            throw Expired(failure);
        }
    }

    /// <summary>The exception that ends a run whose store stayed unavailable.</summary>
    public StoreOutageException Expired(Exception? inner = null) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"the store was unavailable for {FormatDuration(_outageTimeout)} (the --store-outage-timeout); last error: {LastError ?? inner?.Message ?? "none"}"), inner);

    /// <summary>Returns at once while the store answers; otherwise when it answers again (or the outage deadline passes).</summary>
    public async Task WaitAvailableAsync(CancellationToken cancellationToken)
    {
        Task available;
        DateTimeOffset since;
        lock (_gate)
        {
            if (_unavailableSince is null)
            {
                return;
            }

            available = _available.Task;
            since = _unavailableSince.Value;
        }

        var left = _outageTimeout - (_time.GetUtcNow() - since);
        if (left <= TimeSpan.Zero)
        {
            throw Expired();
        }

        try
        {
            await available.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw Expired();
        }
    }

    private static string FormatDuration(TimeSpan value) =>
        value.TotalMinutes >= 1 && value.TotalSeconds % 60 == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{value.TotalMinutes:F0} min")
            : string.Create(CultureInfo.InvariantCulture, $"{value.TotalSeconds:0.#} s");

    private static TaskCompletionSource NewAvailable(bool completed)
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (completed)
        {
            source.SetResult();
        }

        return source;
    }

    private static void InterlockedMin(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
