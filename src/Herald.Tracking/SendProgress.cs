using System.Collections.Concurrent;
using Herald.Store;

namespace Herald.Tracking;

/// <summary>Where a send stands, for the live dashboard.</summary>
/// <param name="Done">Recipients with an outcome (sent, failed, in doubt, skipped).</param>
/// <param name="Active">Recipients remain and the send has started (one is in flight or has an outcome).</param>
/// <param name="RatePerSecond">Outcomes per second over the last ten seconds; null until two samples are apart.</param>
/// <param name="EtaSeconds">Pending and in-flight recipients at that rate; null when the rate is unknown or zero.</param>
public sealed record SendProgressSnapshot(
    string Campaign, DateTimeOffset At, long Total, long Pending, long Sending, long Sent, long Failed, long InDoubt, long Skipped,
    long Done, bool Active, double? RatePerSecond, double? EtaSeconds);

/// <summary>
/// Samples the ledger's counts per state (cheap: one grouped count) and derives the sending rate from successive
/// samples, so no per-message timestamp needs scanning. Samples are shared by every viewer of a campaign.
/// </summary>
internal sealed class SendProgress(TrackingServerOptions options)
{
    // Short enough that the rate follows a send that just started or slowed down.
    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, Samples> _campaigns = new(StringComparer.Ordinal);

    public async Task<SendProgressSnapshot?> SampleAsync(string campaignId, CancellationToken cancellationToken)
    {
        if (options.Ledger is null)
        {
            return null;
        }

        var samples = _campaigns.GetOrAdd(campaignId, static _ => new Samples());
        var now = options.Time.GetUtcNow();
        lock (samples)
        {
            // Several viewers of one campaign share a sample taken less than half the live interval ago.
            if (samples.Latest is { } recent && now - recent.At < options.LiveInterval / 2)
            {
                return recent;
            }
        }

        var counts = await options.Ledger.GetCountsAsync(campaignId, cancellationToken).ConfigureAwait(false);
        var done = counts.Sent + counts.Failed + counts.InDoubt + counts.Skipped;
        lock (samples)
        {
            samples.History.Enqueue((now, done));
            while (samples.History.Count > 2 && now - samples.History.Peek().At > RateWindow)
            {
                samples.History.Dequeue();
            }

            var (firstAt, firstDone) = samples.History.Peek();
            double? rate = now - firstAt >= TimeSpan.FromSeconds(1) ? (done - firstDone) / (now - firstAt).TotalSeconds : null;
            var remaining = counts.Pending + counts.Sending;
            double? eta = rate is > 0 ? remaining / rate.Value : null;
            // A plan nobody sends yet is not "sending": it starts with the first recipient in flight or done.
            var started = counts.Sending + counts.Sent + counts.Failed + counts.InDoubt > 0;
            var snapshot = new SendProgressSnapshot(campaignId, now, counts.Total, counts.Pending, counts.Sending, counts.Sent, counts.Failed,
                counts.InDoubt, counts.Skipped, done, remaining > 0 && started, rate, eta);
            samples.Latest = snapshot;
            return snapshot;
        }
    }

    private sealed class Samples
    {
        public Queue<(DateTimeOffset At, long Done)> History { get; } = new();

        public SendProgressSnapshot? Latest { get; set; }
    }
}
