using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Herald.Tracking;

/// <summary>Which endpoint a request hit, for the request counter.</summary>
internal enum Endpoint
{
    Click,
    Open,
    Unsubscribe,
    Dashboard,
}

/// <summary>
/// The server's metrics as System.Diagnostics.Metrics instruments. They are observable instruments over plain
/// interlocked counters, so a request pays one atomic increment and the cost of collection falls on the scrape.
/// </summary>
internal sealed class TrackingMetrics : IDisposable
{
    public const string MeterName = "Herald.Tracking";

    // Upper bounds in seconds of the redirect latency histogram buckets.
    private static readonly double[] Bounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];
    private static readonly string[] EndpointNames = ["click", "open", "unsubscribe", "dashboard"];

    private readonly long[] _requests = new long[EndpointNames.Length * 2];
    private readonly long[] _buckets = new long[Bounds.Length + 1];
    private readonly Func<long> _pending;
    private long _latencyTicks;
    private long _latencyCount;
    private long _buffered;
    private long _written;
    private long _spooled;
    private long _replayed;
    private long _storeErrors;
    private long _loginFailures;
    private long _loginsThrottled;

    public TrackingMetrics(Func<long> pending)
    {
        _pending = pending;
        Meter = new Meter(MeterName);
        Meter.CreateObservableCounter("herald_tracking_requests_total", ObserveRequests, description: "Requests by endpoint and outcome (ok or rejected).");
        Meter.CreateObservableCounter("herald_events_buffered_total", () => Volatile.Read(ref _buffered), description: "Events accepted into the write buffer.");
        Meter.CreateObservableCounter("herald_events_written_total", () => Volatile.Read(ref _written), description: "Events written to the store.");
        Meter.CreateObservableCounter("herald_events_spooled_total", () => Volatile.Read(ref _spooled), description: "Events written to the spool file while the store was unavailable.");
        Meter.CreateObservableCounter("herald_events_replayed_total", () => Volatile.Read(ref _replayed), description: "Spooled events replayed into the store.");
        Meter.CreateObservableCounter("herald_store_errors_total", () => Volatile.Read(ref _storeErrors), description: "Failed store writes.");
        Meter.CreateObservableCounter("herald_dashboard_login_failures_total", () => Volatile.Read(ref _loginFailures), description: "Dashboard logins with a wrong token.");
        Meter.CreateObservableCounter("herald_dashboard_logins_throttled_total", () => Volatile.Read(ref _loginsThrottled), description: "Dashboard logins refused because the client failed too often.");
        Meter.CreateObservableGauge("herald_events_pending", () => _pending(), description: "Events waiting in memory for the next batch.");
        Meter.CreateObservableCounter("herald_redirect_duration_seconds_bucket", ObserveBuckets, description: "Redirect handling time (cumulative buckets).");
        Meter.CreateObservableCounter("herald_redirect_duration_seconds_sum", () => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _latencyTicks)).TotalSeconds);
        Meter.CreateObservableCounter("herald_redirect_duration_seconds_count", () => Volatile.Read(ref _latencyCount));
    }

    public Meter Meter { get; }

    public void Request(Endpoint endpoint, bool ok) => Interlocked.Increment(ref _requests[((int)endpoint * 2) + (ok ? 0 : 1)]);

    public void RedirectTime(long startTimestamp)
    {
        var elapsed = Stopwatch.GetTimestamp() - startTimestamp;
        var seconds = (double)elapsed / Stopwatch.Frequency;
        var index = 0;
        while (index < Bounds.Length && seconds > Bounds[index])
        {
            index++;
        }

        Interlocked.Increment(ref _buckets[index]);
        Interlocked.Add(ref _latencyTicks, elapsed);
        Interlocked.Increment(ref _latencyCount);
    }

    public void Buffered() => Interlocked.Increment(ref _buffered);

    public void Written(int count) => Interlocked.Add(ref _written, count);

    public void Spooled(int count) => Interlocked.Add(ref _spooled, count);

    public void Replayed(int count) => Interlocked.Add(ref _replayed, count);

    public void StoreError() => Interlocked.Increment(ref _storeErrors);

    public void LoginFailed() => Interlocked.Increment(ref _loginFailures);

    public void LoginThrottled() => Interlocked.Increment(ref _loginsThrottled);

    public void Dispose() => Meter.Dispose();

    private IEnumerable<Measurement<long>> ObserveRequests()
    {
        for (var i = 0; i < EndpointNames.Length; i++)
        {
            yield return new Measurement<long>(Volatile.Read(ref _requests[i * 2]), new("endpoint", EndpointNames[i]), new("outcome", "ok"));
            yield return new Measurement<long>(Volatile.Read(ref _requests[(i * 2) + 1]), new("endpoint", EndpointNames[i]), new("outcome", "rejected"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveBuckets()
    {
        long cumulative = 0;
        for (var i = 0; i <= Bounds.Length; i++)
        {
            cumulative += Volatile.Read(ref _buckets[i]);
            var le = i < Bounds.Length ? Bounds[i].ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "+Inf";
            yield return new Measurement<long>(cumulative, new KeyValuePair<string, object?>("le", le));
        }
    }
}
