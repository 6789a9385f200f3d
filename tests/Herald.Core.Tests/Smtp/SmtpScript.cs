namespace Herald.Core.Tests.Smtp;

/// <summary>
/// What a <see cref="ScriptableSmtpServer"/> does at each stage. Every hook returns the action for that stage;
/// null (or no hook) means the default success reply. Hooks run on the connection's task: keep them quick and
/// thread-safe (several connections call them at once).
/// </summary>
public sealed class SmtpScript
{
    /// <summary>Before the greeting. Reply = that greeting (a non-2xx one is followed by a close); Close; Stall; Refuse = reset.</summary>
    public Func<SmtpStageContext, SmtpAction?>? OnConnect { get; init; }

    /// <summary>EHLO or HELO.</summary>
    public Func<SmtpStageContext, SmtpAction?>? OnEhlo { get; init; }

    /// <summary>MAIL FROM. <see cref="SmtpStageContext.Recipient"/> is not known yet; use <see cref="SmtpStageContext.Transaction"/>.</summary>
    public Func<SmtpStageContext, SmtpAction?>? OnMail { get; init; }

    public Func<SmtpStageContext, SmtpAction?>? OnRcpt { get; init; }

    /// <summary>The DATA command itself (default reply 354).</summary>
    public Func<SmtpStageContext, SmtpAction?>? OnData { get; init; }

    /// <summary>
    /// Once the message data starts arriving (after 354, or in a BDAT chunk). Close = read part of the data, then close
    /// before the final dot (mid-chunk for BDAT); Stall = stop reading and never answer; Reply = read part of the data,
    /// send that reply, close.
    /// </summary>
    public Func<SmtpStageContext, SmtpAction?>? OnDataBody { get; init; }

    /// <summary>
    /// The reply to a non-final BDAT chunk once it was read in full (default <c>250</c>). Close = the chunk arrived but
    /// the connection drops before its reply.
    /// </summary>
    public Func<SmtpStageContext, SmtpAction?>? OnChunk { get; init; }

    /// <summary>AUTH (PLAIN or LOGIN, the credentials decoded into <see cref="SmtpStageContext.Credentials"/>); default <c>235</c>.</summary>
    public Func<SmtpStageContext, SmtpAction?>? OnAuth { get; init; }

    /// <summary>Offer AUTH PLAIN LOGIN.</summary>
    public bool Auth { get; init; }

    /// <summary>
    /// Offer STARTTLS. This server has no certificate: it answers <c>220</c> and then closes, so the client's TLS
    /// handshake fails (what a broken TLS setup looks like to a client).
    /// </summary>
    public bool StartTls { get; init; }

    /// <summary>Offer SMTPUTF8 (RFC 6531). Commands are read as UTF-8 either way.</summary>
    public bool SmtpUtf8 { get; init; }

    /// <summary>After the final dot was received (the message is already recorded). Close/Stall = no reply.</summary>
    public Func<SmtpStageContext, SmtpAction?>? OnFinalDot { get; init; }

    public bool Pipelining { get; init; } = true;

    /// <summary>Offer CHUNKING (BDAT is then accepted as well as DATA). Off by default: MailKit uses DATA.</summary>
    public bool Chunking { get; init; }

    /// <summary>Offer SIZE (MailKit then measures every message before sending it).</summary>
    public bool Size { get; init; }

    /// <summary>The port refuses connections (bound, not listening) until <see cref="ScriptableSmtpServer.SetRefusing"/>(false).</summary>
    public bool Refuse { get; init; }
}

/// <summary>Where the conversation is when a hook runs.</summary>
public sealed record SmtpStageContext
{
    /// <summary>1-based number of the connection on this server.</summary>
    public required int Connection { get; init; }

    /// <summary>1-based number of the MAIL FROM on this server (0 before the first one).</summary>
    public int Transaction { get; init; }

    /// <summary>The MAIL FROM address of the current transaction, when there is one.</summary>
    public string? Sender { get; init; }

    /// <summary>The recipient (from RCPT on): the first accepted one of the transaction.</summary>
    public string? Recipient { get; init; }

    /// <summary>How many times RCPT TO was received for <see cref="Recipient"/> so far, this one included (1-based).</summary>
    public int Attempt { get; init; }

    /// <summary>For <see cref="SmtpScript.OnAuth"/>: <c>user:password</c> as decoded.</summary>
    public string? Credentials { get; init; }
}

/// <summary>What the server does at a stage.</summary>
public abstract record SmtpAction
{
    private protected SmtpAction()
    {
    }

    /// <summary>Send this reply. A 421 is followed by a close, as real servers do.</summary>
    public static SmtpAction Reply(int code, string text) => new ReplyAction(code, text);

    /// <summary>Close the connection right away without a reply.</summary>
    public static SmtpAction Close { get; } = new CloseAction();

    /// <summary>Never answer: keep the connection open and silent until the server is disposed.</summary>
    public static SmtpAction Stall { get; } = new StallAction();

    /// <summary>OnConnect only: reset the connection (RST) instead of greeting. For ECONNREFUSED use <see cref="SmtpScript.Refuse"/>.</summary>
    public static SmtpAction Refuse { get; } = new RefuseAction();

    internal sealed record ReplyAction(int Code, string Text) : SmtpAction;

    internal sealed record CloseAction : SmtpAction;

    internal sealed record StallAction : SmtpAction;

    internal sealed record RefuseAction : SmtpAction;
}

/// <summary>A message whose final dot the server received.</summary>
/// <param name="Recipient">The RCPT TO address (one entry per accepted recipient of the transaction).</param>
/// <param name="Data">The message as received, dot-unstuffed, up to and including the CRLF before the final dot.</param>
/// <param name="ReplyCode">The reply sent to the final dot, or null when the connection was closed or stalled.</param>
/// <param name="Connection">Which connection carried it.</param>
public sealed record ReceivedMessage(string Recipient, byte[] Data, int? ReplyCode, int Connection);
