namespace Herald.Delivery;

/// <summary>
/// Receives each relay's SMTP conversation, line by line (<c>send --verbose</c>). Message content is never passed,
/// only its size; AUTH arguments and credentials are replaced by <c>***</c>. Called from every connection at
/// once: implementations must be thread-safe and quick.
/// </summary>
public interface ISmtpTranscript
{
    /// <param name="relay">The relay's name.</param>
    /// <param name="connection">1-based number of the connection within this relay's pool.</param>
    /// <param name="direction"><c>&gt;</c> client to relay, <c>&lt;</c> relay to client, <c>*</c> an event (TLS, connect, close).</param>
    /// <param name="line">One command or reply line, without CRLF.</param>
    void Write(string relay, int connection, char direction, string line);
}
