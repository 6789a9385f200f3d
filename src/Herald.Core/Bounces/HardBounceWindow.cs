namespace Herald.Bounces;

/// <summary>
/// The last N recipients a campaign attempted and which of them hard-bounced: synchronously (the relay's reply, seen as
/// it happens) or asynchronously (a DSN the bounce receiver stored meanwhile, found by asking the store about the
/// window's recipients). Thread-safe.
/// </summary>
public sealed class HardBounceWindow
{
    private readonly Lock _lock = new();
    private readonly string[] _recipients;
    private readonly bool[] _hard;
    private HashSet<string> _reported = new(StringComparer.Ordinal);
    private int _next;
    private int _count;

    public HardBounceWindow(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _recipients = new string[size];
        _hard = new bool[size];
    }

    public int Size => _recipients.Length;

    /// <summary>One attempt that reached a final state; <paramref name="hard"/> when its reply was a hard bounce.</summary>
    public void Add(string recipientId, bool hard)
    {
        lock (_lock)
        {
            _recipients[_next] = recipientId;
            _hard[_next] = hard;
            _next = (_next + 1) % _recipients.Length;
            _count = Math.Min(_count + 1, _recipients.Length);
        }
    }

    /// <summary>The recipients in the window now (to ask the store which of them bounced since).</summary>
    public IReadOnlyCollection<string> Recipients()
    {
        lock (_lock)
        {
            return [.. _recipients.Take(_count)];
        }
    }

    /// <summary>Which recipients of the window the store has a hard bounce for (asynchronous ones).</summary>
    public void SetReported(IReadOnlySet<string> hard)
    {
        ArgumentNullException.ThrowIfNull(hard);
        lock (_lock)
        {
            _reported = [.. hard];
        }
    }

    /// <summary>Attempts in the window, and how many of them hard-bounced (synchronously or as reported).</summary>
    public (int Attempts, int Hard) Counts()
    {
        lock (_lock)
        {
            var hard = 0;
            for (var i = 0; i < _count; i++)
            {
                if (_hard[i] || _reported.Contains(_recipients[i]))
                {
                    hard++;
                }
            }

            return (_count, hard);
        }
    }
}
