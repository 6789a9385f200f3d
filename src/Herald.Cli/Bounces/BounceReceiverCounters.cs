using System.Globalization;
using Herald.Bounces;
using Herald.Store;

namespace Herald.Cli.Bounces;

/// <summary>What the receiver did so far, for its status lines. Thread-safe.</summary>
internal sealed class BounceReceiverCounters
{
    private long _received;
    private long _hard;
    private long _soft;
    private long _complaints;
    private long _ignored;
    private long _quarantined;
    private long _refused;
    private long _deferred;
    private long _suppressed;

    /// <summary>Called for each message kept in quarantine (path, reason): the receiver's output names it.</summary>
    public event Action<string, string>? Kept;

    /// <summary>Called for each message answered 451 (the store failed).</summary>
    public event Action<string>? Failed;

    public long Received => Interlocked.Read(ref _received);

    public long Quarantine => Interlocked.Read(ref _quarantined);

    public void Processed(BounceOutcome outcome)
    {
        Interlocked.Increment(ref _received);
        Interlocked.Add(ref _suppressed, outcome.Suppressed);
        if (outcome.Disposition == BounceDisposition.Ignored)
        {
            Interlocked.Increment(ref _ignored);
            return;
        }

        foreach (var e in outcome.Events)
        {
            switch (e.Type)
            {
                case BounceType.Hard: Interlocked.Increment(ref _hard); break;
                case BounceType.Soft: Interlocked.Increment(ref _soft); break;
                case BounceType.Complaint: Interlocked.Increment(ref _complaints); break;
                default: break;
            }
        }
    }

    public void Quarantined(string path, string reason)
    {
        Interlocked.Increment(ref _received);
        Interlocked.Increment(ref _quarantined);
        Kept?.Invoke(path, reason);
    }

    public void Refused() => Interlocked.Increment(ref _refused);

    public void Deferred(string error)
    {
        Interlocked.Increment(ref _deferred);
        Failed?.Invoke(error);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"received={Received} hard={Interlocked.Read(ref _hard)} soft={Interlocked.Read(ref _soft)} complaints={Interlocked.Read(ref _complaints)} ignored={Interlocked.Read(ref _ignored)} quarantined={Quarantine} suppressed={Interlocked.Read(ref _suppressed)} refused_rcpt={Interlocked.Read(ref _refused)} deferred={Interlocked.Read(ref _deferred)}");
}
