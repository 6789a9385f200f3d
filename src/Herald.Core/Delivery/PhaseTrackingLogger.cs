using MailKit;

namespace Herald.Delivery;

/// <summary>
/// Watches the bytes MailKit writes to the socket. MailKit calls <see cref="LogClient"/> only after a write succeeded,
/// so seeing the end-of-data sequence there means the final dot reached the socket: from that moment a lost
/// connection leaves the message in doubt instead of safely retryable.
/// </summary>
internal sealed class PhaseTrackingLogger : IProtocolLogger
{
    // The data always ends with CRLF and the terminator is ".\r\n"; dot-stuffing guarantees no earlier "\r\n.\r\n".
    private static ReadOnlySpan<byte> EndOfData => "\r\n.\r\n"u8;

    private readonly byte[] _tail = new byte[5];
    private int _tailLength;

    /// <summary>Called once when the final dot of the current transaction reached the socket.</summary>
    public Action? FinalDotWritten { get; set; }

    /// <summary>True once the final dot of the current transaction reached the socket.</summary>
    public bool IsFinalDotWritten { get; private set; }

    public IAuthenticationSecretDetector? AuthenticationSecretDetector { get; set; }

    /// <summary>Starts a new transaction.</summary>
    public void Reset()
    {
        IsFinalDotWritten = false;
        _tailLength = 0;
    }

    public void LogConnect(Uri uri)
    {
    }

    public void LogClient(byte[] buffer, int offset, int count)
    {
        if (IsFinalDotWritten || count <= 0)
        {
            return;
        }

        // Only the end of a write can complete the sequence; keep the last 5 bytes across writes.
        var chunk = buffer.AsSpan(offset, count);
        if (chunk.Length >= 5)
        {
            chunk[^5..].CopyTo(_tail);
            _tailLength = 5;
        }
        else
        {
            var keep = Math.Min(_tailLength, 5 - chunk.Length);
            _tail.AsSpan(_tailLength - keep, keep).CopyTo(_tail);
            chunk.CopyTo(_tail.AsSpan(keep));
            _tailLength = keep + chunk.Length;
        }

        if (_tailLength == 5 && _tail.AsSpan().SequenceEqual(EndOfData))
        {
            IsFinalDotWritten = true;
            FinalDotWritten?.Invoke();
        }
    }

    public void LogServer(byte[] buffer, int offset, int count)
    {
    }

    public void Dispose()
    {
    }
}
