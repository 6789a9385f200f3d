namespace Herald.Bounces;

/// <summary>
/// The last N recipients a campaign attempted and which of them hard-bounced: synchronously (the relay's reply, seen as
/// it happens) or asynchronously (a DSN the bounce receiver stored meanwhile, found by asking the store about the
/// window's recipients). Counts are kept as attempts come and go, so reading them costs nothing per attempt, whatever
/// the window's size. Thread-safe.
/// </summary>
public sealed class HardBounceWindow
{
    private readonly Lock _lock = new();
    private readonly string[] _recipients;
    private readonly bool[] _hard;
    private readonly bool[] _reported;
    // Which slot holds a recipient: an asynchronous report names the recipient, not its slot.
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private int _next;
    private int _count;
    private int _hardCount;

    public HardBounceWindow(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        _recipients = new string[size];
        _hard = new bool[size];
        _reported = new bool[size];
    }

    public int Size => _recipients.Length;

    /// <summary>One attempt that reached a final state; <paramref name="hard"/> when its reply was a hard bounce.</summary>
    public void Add(string recipientId, bool hard)
    {
        lock (_lock)
        {
            if (_count == _recipients.Length)
            {
                // The oldest attempt leaves the window, and its bounce with it.
                if (_hard[_next] || _reported[_next])
                {
                    _hardCount--;
                }

                if (_slots.TryGetValue(_recipients[_next], out var slot) && slot == _next)
                {
                    _slots.Remove(_recipients[_next]);
                }
            }

            _recipients[_next] = recipientId;
            _hard[_next] = hard;
            _reported[_next] = false;
            _slots[recipientId] = _next;
            if (hard)
            {
                _hardCount++;
            }

            _next = (_next + 1) % _recipients.Length;
            _count = Math.Min(_count + 1, _recipients.Length);
        }
    }

    /// <summary>The recipients in the window now (to ask the store which of them bounced since).</summary>
    public IReadOnlyCollection<string> Recipients() => Recipients(0, Size).Ids;

    /// <summary>
    /// The recipients of slots <paramref name="start"/> … <paramref name="start"/> + <paramref name="take"/> − 1 (a bounded
    /// piece of a large window to ask the store about), and where the next piece starts (0 once past the end).
    /// </summary>
    public (IReadOnlyList<string> Ids, int Next) Recipients(int start, int take)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThan(take, 1);
        lock (_lock)
        {
            if (start >= _count)
            {
                start = 0;
            }

            var end = Math.Min(_count, start + take);
            return (_recipients[start..end], end >= _count ? 0 : end);
        }
    }

    /// <summary>
    /// Recipients the store has a hard bounce for (asynchronous ones): each still in the window counts as hard from now
    /// on, once, however often it is reported. Bounces are never withdrawn, so reports only add.
    /// </summary>
    public void MarkReported(IEnumerable<string> hard)
    {
        ArgumentNullException.ThrowIfNull(hard);
        lock (_lock)
        {
            foreach (var recipient in hard)
            {
                if (_slots.TryGetValue(recipient, out var slot) && !_reported[slot])
                {
                    _reported[slot] = true;
                    if (!_hard[slot])
                    {
                        _hardCount++;
                    }
                }
            }
        }
    }

    /// <summary>Attempts in the window, and how many of them hard-bounced (synchronously or as reported).</summary>
    public (int Attempts, int Hard) Counts()
    {
        lock (_lock)
        {
            return (_count, _hardCount);
        }
    }
}
