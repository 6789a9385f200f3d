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

/// <summary>Where in the SMTP transaction an attempt ended.</summary>
public enum SmtpStage
{
    /// <summary>Before MAIL FROM (address checks).</summary>
    None,

    /// <summary>The reply to MAIL FROM.</summary>
    Mail,

    /// <summary>The reply to RCPT TO.</summary>
    Rcpt,

    /// <summary>The reply to DATA (354 expected).</summary>
    Data,

    /// <summary>While the content went out: the DATA bytes before the final dot, or the non-final BDAT chunk and its reply.</summary>
    Content,

    /// <summary>After the final dot (DATA) or <c>BDAT 0 LAST</c> was written: the reply that decides delivery.</summary>
    Final,
}

/// <summary>The classified outcome of one attempt.</summary>
/// <param name="ConnectionBroken">The connection cannot be reused.</param>
public sealed record AttemptResult(AttemptKind Kind, int? Code, string Text, bool ConnectionBroken)
{
    /// <summary>The step whose reply (or failure) ended the attempt.</summary>
    public SmtpStage Stage { get; init; }

    /// <summary>The RFC 3463 enhanced status code of the reply (<c>5.7.1</c>), when the relay gave one.</summary>
    public EnhancedStatusCode? Enhanced => EnhancedStatusCode.Find(Text, Code);
}
