using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

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
    private readonly Func<JournalGauges> _journal;
    private long _latencyTicks;
    private long _latencyCount;
    private long _written;
    private long _replayed;
    private long _refused;
    private long _storeErrors;
    private long _otherUnknownKeys;
    private long _loginFailures;
    private long _loginsThrottled;

    /// <summary>Refused tokens per unknown key id; bounded, since anyone can make up key ids.</summary>
    private readonly ConcurrentDictionary<uint, StrongBox<long>> _unknownKeys = new();

    public TrackingMetrics(Func<JournalGauges> journal)
    {
        _journal = journal;
        Meter = new Meter(MeterName);
        Meter.CreateObservableCounter("herald_tracking_requests_total", ObserveRequests, description: "Requests by endpoint and outcome (ok or rejected).");
        Meter.CreateObservableCounter("herald_events_journaled_total", () => _journal().Journaled, description: "Events written to this server's journal (each before its request was answered).");
        Meter.CreateObservableCounter("herald_events_written_total", () => Volatile.Read(ref _written), description: "Events moved to the store.");
        Meter.CreateObservableCounter("herald_events_replayed_total", () => Volatile.Read(ref _replayed), description: "Events moved to the store from journals that servers which are gone left behind.");
        Meter.CreateObservableCounter("herald_events_refused_total", () => Volatile.Read(ref _refused), description: "Tracking requests answered 503 because the journal could not take their event (full, disk full).");
        Meter.CreateObservableCounter("herald_store_errors_total", () => Volatile.Read(ref _storeErrors), description: "Failed store writes.");
        Meter.CreateObservableCounter("herald_tracking_unknown_key_total", ObserveUnknownKeys, description: "Well-formed tokens refused because no key of this server has their key id (mail signed with another secret).");
        Meter.CreateObservableGauge("herald_events_pending", () => _journal().Pending, description: "Events in the journal not yet in the store.");
        Meter.CreateObservableGauge("herald_journal_bytes", () => _journal().Bytes, description: "Size of this server's journal on disk.");
        Meter.CreateObservableCounter("herald_dashboard_login_failures_total", () => Volatile.Read(ref _loginFailures), description: "Dashboard logins with a wrong token.");
        Meter.CreateObservableCounter("herald_dashboard_logins_throttled_total", () => Volatile.Read(ref _loginsThrottled), description: "Dashboard logins refused because the client failed too often.");
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

    /// <summary>Most distinct unknown key ids counted (and logged) one by one; the rest count as <c>other</c>.</summary>
    public const int MaxUnknownKeyIds = 32;

    /// <summary>Counts a token refused for its unknown key id; true the first time this id is seen (log it then).</summary>
    public bool UnknownKey(uint keyId)
    {
        if (_unknownKeys.TryGetValue(keyId, out var count))
        {
            Interlocked.Increment(ref count.Value);
            return false;
        }

        if (_unknownKeys.Count >= MaxUnknownKeyIds)
        {
            Interlocked.Increment(ref _otherUnknownKeys);
            return false;
        }

        var added = new StrongBox<long>(0);
        var box = _unknownKeys.GetOrAdd(keyId, added);
        Interlocked.Increment(ref box.Value);
        return ReferenceEquals(box, added);
    }

    public void Written(int count) => Interlocked.Add(ref _written, count);

    public void Refused() => Interlocked.Increment(ref _refused);

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

    private IEnumerable<Measurement<long>> ObserveUnknownKeys()
    {
        foreach (var (id, count) in _unknownKeys)
        {
            yield return new Measurement<long>(Volatile.Read(ref count.Value), new KeyValuePair<string, object?>("key_id", Herald.Tracking.TokenKey.FormatId(id)));
        }

        yield return new Measurement<long>(Volatile.Read(ref _otherUnknownKeys), new KeyValuePair<string, object?>("key_id", "other"));
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

/// <summary>What the metrics read from the journal when scraped.</summary>
internal readonly record struct JournalGauges(long Journaled, long Pending, long Bytes);
