namespace Herald.Delivery;

/// <summary>
/// Takes a relay out of rotation after consecutive connection failures, for a cooldown; then lets one connection try
/// (half-open): its success closes the circuit, its failure opens it again.
/// </summary>
internal sealed class CircuitBreaker
{
    private readonly int _threshold;
    private readonly TimeSpan _cooldown;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private int _failures;
    private DateTimeOffset _openUntil = DateTimeOffset.MinValue;
    private bool _probing;

    public CircuitBreaker(int threshold, TimeSpan cooldown, TimeProvider time)
    {
        _threshold = Math.Max(1, threshold);
        _cooldown = cooldown;
        _time = time;
    }

    public bool IsOpen
    {
        get
        {
            lock (_lock)
            {
                return _failures >= _threshold;
            }
        }
    }

    /// <summary>How long the caller should wait before trying; zero when it may try now.</summary>
    public TimeSpan TryEnter()
    {
        lock (_lock)
        {
            if (_failures < _threshold)
            {
                return TimeSpan.Zero;
            }

            var now = _time.GetUtcNow();
            if (now < _openUntil)
            {
                return _openUntil - now;
            }

            if (_probing)
            {
                return TimeSpan.FromMilliseconds(Math.Min(_cooldown.TotalMilliseconds, 250));
            }

            _probing = true;
            return TimeSpan.Zero;
        }
    }

    public void Success()
    {
        lock (_lock)
        {
            _failures = 0;
            _probing = false;
        }
    }

    public void Failure()
    {
        lock (_lock)
        {
            _failures++;
            _probing = false;
            if (_failures >= _threshold)
            {
                _openUntil = _time.GetUtcNow() + _cooldown;
            }
        }
    }
}
