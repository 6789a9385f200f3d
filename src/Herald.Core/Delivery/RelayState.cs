using System.Globalization;
using Herald.Campaigns;
using Herald.Store;

namespace Herald.Delivery;

/// <summary>
/// One relay of the pool as the engine sees it: its circuit breaker and rate limit, its health (what the progress line,
/// <c>status</c> and the final message show), and the relay guards. A relay that is down (refused, timed out, TLS
/// failed) is retried after the breaker's cooldown; one that refuses the sender as configured (authentication, MAIL
/// FROM, a streak of policy blocks, a storm of temporary failures) leaves the rotation for the rest of the run.
/// Thread-safe: every connection of the relay reports here.
/// </summary>
internal sealed class RelayState
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly int _policyLimit;
    private readonly int _transientLimit;
    private readonly Action<RelayHealth> _changed;
    private RelayHealthState _state = RelayHealthState.Unknown;
    private string? _lastReply;
    private string? _lastError;
    private DateTimeOffset _since;
    private volatile string? _outOfRotation;
    private int _policyStreak;
    private int _transientStreak;

    public RelayState(RelayOptions options, DeliveryOptions delivery, TimeProvider time, Action<RelayHealth> changed)
    {
        Options = options;
        _time = time;
        _changed = changed;
        _policyLimit = Math.Max(1, delivery.PolicyStreak);
        _transientLimit = Math.Max(1, delivery.TransientStreak);
        Breaker = new CircuitBreaker(delivery.BreakerFailures, delivery.BreakerCooldown, time);
        Limiter = options.RateLimit is { } rate and > 0 ? new RateLimiter(rate, time) : null;
        _since = time.GetUtcNow();
    }

    public RelayOptions Options { get; }

    public string Name => Options.Name;

    public CircuitBreaker Breaker { get; }

    public RateLimiter? Limiter { get; }

    public volatile bool EverConnected;

    /// <summary>True once the relay refused the sender as configured; it takes no more work this run.</summary>
    public bool IsOutOfRotation => _outOfRotation is not null;

    /// <summary>Why the relay is not usable now, in the operator's words; null when it is up.</summary>
    public string? Problem
    {
        get
        {
            lock (_lock)
            {
                return _outOfRotation ?? (_state is RelayHealthState.Down or RelayHealthState.Unknown ? _lastError ?? _lastReply : null);
            }
        }
    }

    public RelayHealth Health
    {
        get
        {
            lock (_lock)
            {
                return new RelayHealth(Name, _state, _lastReply, _outOfRotation ?? _lastError, _since);
            }
        }
    }

    public void Connected()
    {
        EverConnected = true;
        Breaker.Success();
        Update(() =>
        {
            if (_outOfRotation is not null || _state == RelayHealthState.Up)
            {
                return false;
            }

            _state = RelayHealthState.Up;
            _since = _time.GetUtcNow();
            return true;
        });
    }

    /// <summary>A connection could not be opened; the reason says whether the relay refuses us or is merely down.</summary>
    public void ConnectFailed(string reason, bool senderSide, int? code)
    {
        if (senderSide)
        {
            if (code is not null)
            {
                Update(() => Set(ref _lastReply, reason));
            }

            TakeOutOfRotation(reason);
            return;
        }

        Breaker.Failure();
        var open = Breaker.IsOpen;
        Update(() =>
        {
            var changed = code is null ? Set(ref _lastError, reason) : Set(ref _lastReply, reason);
            if (_outOfRotation is null && open && _state != RelayHealthState.Down)
            {
                _state = RelayHealthState.Down;
                _since = _time.GetUtcNow();
                changed = true;
            }

            return changed;
        });
    }

    /// <summary>
    /// Counts an attempt's outcome against the relay guards. Returns true when this attempt took the relay out of
    /// rotation (the blame is the relay's: the recipient must not pay for it).
    /// </summary>
    public bool Observe(AttemptResult result, Blame blame)
    {
        if (result.Kind is AttemptKind.Delivered or AttemptKind.Rejected)
        {
            // Any answer to the data proves the relay works, as a refused connection proves the opposite.
            Breaker.Success();
        }
        else if (result.ConnectionBroken)
        {
            // A relay that keeps dropping connections is taken out of rotation like one that refuses them.
            Breaker.Failure();
        }

        string? trip = null;
        Update(() =>
        {
            var changed = false;
            if (result.Kind != AttemptKind.Delivered && result.Text.Length > 0)
            {
                changed = result.Code is not null ? Set(ref _lastReply, result.Text) : Set(ref _lastError, result.Text);
            }

            switch (blame)
            {
                case Blame.None when result.Kind == AttemptKind.Delivered:
                case Blame.Recipient:
                    _policyStreak = 0;
                    _transientStreak = 0;
                    break;
                case Blame.Relay:
                    trip = result.Text;
                    break;
                case Blame.Policy when ++_policyStreak >= _policyLimit:
                    trip = string.Create(CultureInfo.InvariantCulture, $"{result.Text} ({_policyStreak} policy refusals in a row)");
                    break;
                case Blame.Transient when ++_transientStreak >= _transientLimit:
                    trip = string.Create(CultureInfo.InvariantCulture, $"{result.Text} ({_transientStreak} temporary failures in a row)");
                    break;
            }

            return changed;
        });

        return trip is not null && TakeOutOfRotation(trip);
    }

    /// <summary>Takes the relay out of rotation for this run; false when it already was.</summary>
    public bool TakeOutOfRotation(string reason)
    {
        var first = false;
        Update(() =>
        {
            if (_outOfRotation is not null)
            {
                return false;
            }

            _outOfRotation = reason;
            _state = RelayHealthState.OutOfRotation;
            _since = _time.GetUtcNow();
            first = true;
            return true;
        });
        return first;
    }

    private void Update(Func<bool> change)
    {
        // The snapshot is published under the lock: published after it, two connections' changes could reach the
        // recorder in the other order, and an older "up" would overwrite "out_of_rotation" in the store (seen in CI).
        // The callback only queues the snapshot (RelayHealthRecorder.Record), so holding the lock for it is cheap.
        lock (_lock)
        {
            if (change())
            {
                _changed(new RelayHealth(Name, _state, _lastReply, _outOfRotation ?? _lastError, _since));
            }
        }
    }

    private static bool Set(ref string? field, string value)
    {
        if (field == value)
        {
            return false;
        }

        field = value;
        return true;
    }
}
