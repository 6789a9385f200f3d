using System.Text;
using System.Text.RegularExpressions;
using Herald.Recipients;
using MimeKit;

namespace Herald.Bounces;

/// <summary>
/// Reads a message that arrived at the bounce address apart: a DSN (RFC 3464), an ARF complaint (RFC 5965), a
/// non-standard bounce, an auto-reply, or something else; and gathers every clue to the original message (returned
/// headers, Message-IDs, addresses, text) without trusting any of it yet: <see cref="BounceProcessor"/> decides.
/// </summary>
internal static partial class BounceReader
{
    /// <summary>Evidence kept per report: enough for the headers and the start of the text of any real bounce.</summary>
    private const int MaxEvidenceChars = 512 * 1024;
    private const int MaxParts = 200;
    private const int MaxDepth = 12;
    private const int MaxRecipients = 100;

    private static readonly string[] BounceSubjects =
    [
        "undeliver", "undelivered", "delivery status notification", "mail delivery failed", "returned mail",
        "delivery failure", "failure notice", "nondeliverable", "non-deliverable", "could not be delivered",
        "delivery has failed", "mail delivery failure", "delivery notification", "mail system error",
    ];

    private static readonly string[] AutoReplySubjects = ["auto:", "automatic reply", "autoreply", "auto-reply", "auto reply", "out of office", "out of the office", "vacation"];

    /// <summary>Headers whose values may carry the return path a report was sent to (imported mail has no envelope).</summary>
    private static readonly string[] EnvelopeHeaders = ["To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "Return-Path", "Original-Recipient", "X-Failed-Recipients"];

    /// <summary>Headers of a returned original that may carry our tokens or ids.</summary>
    private static readonly string[] ReturnedHeaders = ["Message-ID", "Return-Path", "To", "List-Unsubscribe", "List-Id", "Feedback-ID", "References", "In-Reply-To", "X-Herald-Campaign"];

    [GeneratedRegex(@"message-id:\s*<?([^\s<>]{1,250}@[^\s<>]{1,250})>?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex QuotedMessageId();

    public static BounceReport Read(MimeMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var evidence = new StringBuilder();
        var messageIds = new List<string>();
        var recipients = new List<DsnRecipient>();
        var failed = new List<string>();
        FeedbackFields? feedback = null;
        var hasDsn = false;
        string? diagnostic = null;
        var ownText = new StringBuilder();

        foreach (var name in EnvelopeHeaders)
        {
            foreach (var value in message.Headers.Where(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value))
            {
                Append(evidence, $"{name}: {value}");
            }
        }

        foreach (var header in message.Headers.Where(h => h.Field.Equals("X-Failed-Recipients", StringComparison.OrdinalIgnoreCase)))
        {
            failed.AddRange(header.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        }

        messageIds.AddRange(message.References);
        if (message.InReplyTo is { Length: > 0 } inReplyTo)
        {
            messageIds.Add(inReplyTo);
        }

        var parts = 0;
        Walk(message.Body, 0, returned: false);

        var kind = feedback is not null ? BounceReportKind.Feedback
            : hasDsn ? BounceReportKind.DeliveryStatus
            : IsBounce(message, failed) ? BounceReportKind.NonStandardBounce
            : IsAutoReply(message) ? BounceReportKind.AutoReply
            : BounceReportKind.Unknown;

        if (kind == BounceReportKind.NonStandardBounce)
        {
            diagnostic = FirstCodeLine(ownText.ToString()) ?? FirstFailureLine(ownText.ToString()) ?? message.Subject;
        }

        foreach (Match match in QuotedMessageId().Matches(ownText.ToString()))
        {
            messageIds.Add(match.Groups[1].Value);
        }

        return new BounceReport
        {
            Kind = kind,
            Recipients = recipients,
            Feedback = feedback,
            ReportMessageId = message.MessageId,
            Date = message.Headers.Contains(HeaderId.Date) && message.Date != DateTimeOffset.MinValue ? message.Date : null,
            Evidence = evidence.ToString(),
            MessageIds = [.. messageIds.Select(id => id.Trim().Trim('<', '>')).Where(id => id.Length > 0).Distinct(StringComparer.Ordinal).Take(50)],
            FailedAddresses = [.. failed.Select(Address).Where(a => a is not null).Select(a => a!).Distinct(StringComparer.Ordinal).Take(MaxRecipients)],
            Diagnostic = diagnostic,
        };

        void Walk(MimeEntity? entity, int depth, bool returned)
        {
            if (entity is null || depth > MaxDepth || ++parts > MaxParts)
            {
                return;
            }

            switch (entity)
            {
                case MessageDeliveryStatus status when !returned:
                    hasDsn = true;
                    ReadDsn(status, recipients);
                    break;
                case MessageFeedbackReport report when !returned:
                    feedback ??= ReadFeedback(report, failed, evidence);
                    break;
                case MessagePart { Message: { } original }:
                    // message/rfc822 or text/rfc822-headers: the original, as the reporting MTA returned it.
                    foreach (var name in ReturnedHeaders)
                    {
                        foreach (var value in original.Headers.Where(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value))
                        {
                            Append(evidence, $"{name}: {value}");
                        }
                    }

                    if (original.MessageId is { Length: > 0 } id)
                    {
                        messageIds.Insert(0, id);
                    }

                    Walk(original.Body, depth + 1, returned: true);
                    break;
                case Multipart multipart:
                    foreach (var child in multipart)
                    {
                        Walk(child, depth + 1, returned);
                    }

                    break;
                case TextPart text:
                    var content = Bounded(text);
                    Append(evidence, content);
                    if (!returned)
                    {
                        Append(ownText, content);
                    }

                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>The normalized address of a DSN/ARF address field (<c>rfc822; zoe@example.org</c>), or null.</summary>
    internal static string? Address(string? field)
    {
        if (string.IsNullOrWhiteSpace(field))
        {
            return null;
        }

        var text = field.Trim();
        var semicolon = text.IndexOf(';', StringComparison.Ordinal);
        if (semicolon >= 0 && semicolon < 16 && !text[..semicolon].Contains('@', StringComparison.Ordinal))
        {
            text = text[(semicolon + 1)..].Trim();
        }

        text = text.Trim('<', '>', ' ', '"');
        return EmailAddress.TryNormalize(text, out var normalized, out _) ? normalized : null;
    }

    private static void ReadDsn(MessageDeliveryStatus status, List<DsnRecipient> recipients)
    {
        var groups = status.StatusGroups;
        // The first group holds the per-message fields; every other one is a recipient.
        for (var i = 1; i < groups.Count && recipients.Count < MaxRecipients; i++)
        {
            var group = groups[i];
            var action = Field(group, "Action")?.ToLowerInvariant();
            if (action is null)
            {
                continue;
            }

            var diagnostic = Field(group, "Diagnostic-Code");
            if (diagnostic is not null)
            {
                var semicolon = diagnostic.IndexOf(';', StringComparison.Ordinal);
                if (semicolon is > 0 and < 16)
                {
                    diagnostic = diagnostic[(semicolon + 1)..].Trim();
                }
            }

            var final = Field(group, "Final-Recipient");
            var original = Field(group, "Original-Recipient");
            recipients.Add(new DsnRecipient(Address(final) ?? final, Address(original), action, Field(group, "Status"), diagnostic));
        }
    }

    private static FeedbackFields ReadFeedback(MessageFeedbackReport report, List<string> failed, StringBuilder evidence)
    {
        var fields = report.Fields;
        var rcpt = fields.Where(h => h.Field.Equals("Original-Rcpt-To", StringComparison.OrdinalIgnoreCase)).Select(h => h.Value.Trim()).ToList();
        failed.AddRange(rcpt);
        var mailFrom = FieldValue(fields, "Original-Mail-From");
        Append(evidence, $"Original-Mail-From: {mailFrom}");
        foreach (var value in rcpt)
        {
            Append(evidence, $"Original-Rcpt-To: {value}");
        }

        return new FeedbackFields(
            (FieldValue(fields, "Feedback-Type") ?? "abuse").Trim().ToLowerInvariant(),
            rcpt.FirstOrDefault(),
            mailFrom,
            FieldValue(fields, "User-Agent"));
    }

    private static string? Field(HeaderList group, string name) => FieldValue(group, name);

    private static string? FieldValue(HeaderList headers, string name)
    {
        foreach (var header in headers)
        {
            if (header.Field.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                var value = Collapse(header.Value);
                return value.Length == 0 ? null : value;
            }
        }

        return null;
    }

    private static bool IsBounce(MimeMessage message, List<string> failed)
    {
        if (failed.Count > 0 || message.Headers.Contains("X-Failed-Recipients"))
        {
            return true;
        }

        if (message.Body is MultipartReport { ReportType: { } type } && type.Equals("delivery-status", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var from = message.From.Mailboxes.FirstOrDefault()?.Address ?? string.Empty;
        var local = from.Split('@')[0].ToLowerInvariant();
        var subject = message.Subject?.ToLowerInvariant() ?? string.Empty;
        // A null envelope sender alone says nothing: auto-replies use one too (RFC 3834).
        return local is "mailer-daemon" or "postmaster" or "mail-daemon" || BounceSubjects.Any(s => subject.Contains(s, StringComparison.Ordinal));
    }

    private static bool IsAutoReply(MimeMessage message)
    {
        var headers = message.Headers;
        var autoSubmitted = headers["Auto-Submitted"]?.Trim().ToLowerInvariant();
        if (autoSubmitted is not null && autoSubmitted != "no")
        {
            return true;
        }

        if (headers.Contains("X-Autoreply") || headers.Contains("X-Autorespond") || headers.Contains("X-Autoresponder"))
        {
            return true;
        }

        var precedence = headers["Precedence"]?.Trim().ToLowerInvariant();
        if (precedence is "auto_reply" or "auto-reply" or "bulk" or "junk")
        {
            return true;
        }

        var subject = message.Subject?.ToLowerInvariant() ?? string.Empty;
        return AutoReplySubjects.Any(s => subject.StartsWith(s, StringComparison.Ordinal) || subject.Contains(s, StringComparison.Ordinal));
    }

    /// <summary>The first line of a bounce's own text that carries a status code, with its neighbour when the code is alone.</summary>
    private static string? FirstCodeLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.TrimEntries);
        for (var i = 0; i < lines.Length; i++)
        {
            if (BounceClassifier.FindEnhanced(lines[i]) is not null || LooksLikeReply(lines[i]))
            {
                var line = lines[i];
                if (line.Length < 20 && i > 0)
                {
                    line = lines[i - 1] + " " + line; // qmail: "Sorry, no mailbox here by that name. (#5.1.1)" may follow the address line
                }

                return Collapse(line);
            }
        }

        return null;
    }

    /// <summary>The first line that says in words why delivery failed (a bounce without any code).</summary>
    private static string? FirstFailureLine(string text) =>
        text.Split('\n', StringSplitOptions.TrimEntries).Where(BounceClassifier.MentionsFailure).Select(Collapse).FirstOrDefault();

    private static bool LooksLikeReply(string line)
    {
        for (var i = 0; i + 3 < line.Length; i++)
        {
            if (line[i] is '4' or '5' && char.IsAsciiDigit(line[i + 1]) && char.IsAsciiDigit(line[i + 2]) && line[i + 3] is ' ' or '-' or ':'
                && (i == 0 || !char.IsAsciiDigit(line[i - 1]) && line[i - 1] != '.'))
            {
                return true;
            }
        }

        return false;
    }

    private static string Bounded(TextPart text)
    {
        try
        {
            var content = text.Text ?? string.Empty;
            return content.Length > MaxEvidenceChars / 4 ? content[..(MaxEvidenceChars / 4)] : content;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or DecoderFallbackException)
        {
            return string.Empty;
        }
    }

    private static void Append(StringBuilder builder, string? text)
    {
        if (string.IsNullOrEmpty(text) || builder.Length >= MaxEvidenceChars)
        {
            return;
        }

        var room = MaxEvidenceChars - builder.Length;
        builder.Append(text.Length > room ? text[..room] : text).Append('\n');
    }

    internal static string Collapse(string text)
    {
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                space = builder.Length > 0;
                continue;
            }

            if (space)
            {
                builder.Append(' ');
                space = false;
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

}
