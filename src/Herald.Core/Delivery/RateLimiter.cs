namespace Herald.Delivery;

/// <summary>A token bucket shared by one relay's connections (messages per second, burst of one second).</summary>
internal sealed class RateLimiter
{
    private readonly double _ratePerSecond;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private double _tokens;
    private long _last;

    public RateLimiter(double ratePerSecond, TimeProvider time)
    {
        _ratePerSecond = ratePerSecond;
        _time = time;
        _tokens = Math.Max(1, ratePerSecond);
        _last = time.GetTimestamp();
    }

    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var now = _time.GetTimestamp();
                _tokens = Math.Min(Math.Max(1, _ratePerSecond), _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _ratePerSecond));
                _last = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return;
                }

                await Task.Delay(TimeSpan.FromSeconds((1 - _tokens) / _ratePerSecond), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
