namespace Herald.Delivery;

/// <summary>
/// A relay connection that could not be opened (socket, TLS, greeting, EHLO, AUTH); nothing was sent. The message is
/// the reason as an operator reads it: the relay's reply (<c>535 5.7.8 authentication failed</c>) or the socket or TLS
/// error (<c>connection refused</c>, <c>TLS handshake failed: …</c>); never a credential.
/// </summary>
public sealed class RelayConnectException : HeraldException
{
    public RelayConnectException(string reason, bool senderSide, int? code = null, Exception? inner = null)
        : base(reason, inner)
    {
        SenderSide = senderSide;
        Code = code;
    }

    public RelayConnectException() : this("the relay could not be reached", senderSide: false)
    {
    }

    public RelayConnectException(string message) : this(message, senderSide: false)
    {
    }

    public RelayConnectException(string message, Exception? inner) : this(message, senderSide: false, null, inner)
    {
    }

    /// <summary>
    /// The relay answers but refuses us as configured (credentials refused or missing, AUTH that would go without TLS,
    /// STARTTLS required but not offered, a 5xx greeting or EHLO): retrying will not help until someone fixes it.
    /// </summary>
    public bool SenderSide { get; }

    /// <summary>True when trying again later may succeed (the relay is down or busy, not refusing us).</summary>
    public bool IsTransient => !SenderSide;

    /// <summary>The SMTP reply code, when a reply was the reason.</summary>
    public int? Code { get; }
}
