namespace Herald.Delivery;

/// <summary>What one SMTP transaction proved about delivery.</summary>
public enum AttemptKind
{
    /// <summary>2xx after the final dot: the relay took the message.</summary>
    Delivered,

    /// <summary>5xx to MAIL/RCPT/DATA or after the final dot: permanent.</summary>
    Rejected,

    /// <summary>The relay did not take the message (any failure before the final dot, or 4xx after it): safe to retry.</summary>
    Retry,

    /// <summary>No reply or a lost connection after the final dot: the message may have been delivered.</summary>
    InDoubt,
}

/// <summary>The classified outcome of one attempt.</summary>
/// <param name="ConnectionBroken">The connection cannot be reused.</param>
public sealed record AttemptResult(AttemptKind Kind, int? Code, string Text, bool ConnectionBroken);
