namespace Herald.Bounces;

/// <summary>What kind of mail arrived at the bounce address.</summary>
internal enum BounceReportKind
{
    /// <summary>A delivery status notification (multipart/report with message/delivery-status, RFC 3464).</summary>
    DeliveryStatus,

    /// <summary>A complaint feedback report (message/feedback-report, ARF, RFC 5965).</summary>
    Feedback,

    /// <summary>A bounce without a machine-readable part (an old MTA's text, a provider's own format).</summary>
    NonStandardBounce,

    /// <summary>A vacation or out-of-office reply: ignored.</summary>
    AutoReply,

    /// <summary>None of the above.</summary>
    Unknown,
}

/// <summary>One per-recipient group of a DSN.</summary>
/// <param name="FinalRecipient">The address the reporting MTA tried (normalized, or as written when it does not normalize).</param>
/// <param name="OriginalRecipient">The address as first given to the MTA, when reported.</param>
/// <param name="Action">failed, delayed, delivered, relayed or expanded (lowercase).</param>
/// <param name="Status">The enhanced status code field.</param>
/// <param name="Diagnostic">The remote MTA's reply (Diagnostic-Code without its type), whitespace collapsed.</param>
internal sealed record DsnRecipient(string? FinalRecipient, string? OriginalRecipient, string Action, string? Status, string? Diagnostic);

/// <summary>The fields of an ARF report that matter here.</summary>
/// <param name="Type">Feedback-Type, lowercase (abuse, fraud, not-spam, virus, other, ...).</param>
internal sealed record FeedbackFields(string Type, string? OriginalRcptTo, string? OriginalMailFrom, string? UserAgent);

/// <summary>A bounce, complaint or other message read apart: what it says and every clue to whom it is about.</summary>
internal sealed class BounceReport
{
    public required BounceReportKind Kind { get; init; }

    public IReadOnlyList<DsnRecipient> Recipients { get; init; } = [];

    public FeedbackFields? Feedback { get; init; }

    /// <summary>The report's own Message-ID (what makes a retried delivery of it the same event).</summary>
    public string? ReportMessageId { get; init; }

    /// <summary>The report's Date header, when present.</summary>
    public DateTimeOffset? Date { get; init; }

    /// <summary>Headers, returned headers and text of the report, bounded: where return paths and tracking tokens are looked for.</summary>
    public string Evidence { get; init; } = string.Empty;

    /// <summary>Message-IDs of the original message (returned headers, In-Reply-To, References, quoted in the text).</summary>
    public IReadOnlyList<string> MessageIds { get; init; } = [];

    /// <summary>Addresses the report says failed outside a DSN (X-Failed-Recipients, ARF Original-Rcpt-To).</summary>
    public IReadOnlyList<string> FailedAddresses { get; init; } = [];

    /// <summary>For a non-standard bounce: the text a status was read from (the first line carrying a code, else the subject).</summary>
    public string? Diagnostic { get; init; }
}
