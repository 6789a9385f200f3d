using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Herald.Store;
using Herald.Tracking;
using MimeKit;

namespace Herald.Bounces;

/// <summary>What became of one message that arrived at the bounce address.</summary>
public enum BounceDisposition
{
    /// <summary>Bounce or complaint events were recorded (and the policy applied).</summary>
    Recorded,

    /// <summary>Understood and deliberately not recorded: an auto-reply, a delay warning, a delivery report, a not-spam report.</summary>
    Ignored,

    /// <summary>Not understood, or about no recipient of this store: keep it in the quarantine folder for a human.</summary>
    Quarantine,
}

/// <summary>The result of processing one message.</summary>
/// <param name="Events">The events it produced (already stored ones included, so a replay reports the same).</param>
/// <param name="Reason">Why it was ignored or quarantined; a summary when recorded.</param>
/// <param name="Suppressed">Addresses this message newly suppressed.</param>
public sealed record BounceOutcome(BounceDisposition Disposition, IReadOnlyList<BounceEvent> Events, string Reason, int Suppressed)
{
    public static BounceOutcome Quarantined(string reason) => new(BounceDisposition.Quarantine, [], reason, 0);

    public static BounceOutcome Ignore(string reason) => new(BounceDisposition.Ignored, [], reason, 0);
}

/// <summary>The envelope a message arrived with (empty for imported files).</summary>
/// <param name="Recipients">RCPT TO addresses: a return path names the recipient the bounce is about.</param>
public sealed record BounceEnvelope(string? MailFrom, IReadOnlyList<string> Recipients)
{
    public static BounceEnvelope None { get; } = new(null, []);
}

/// <summary>
/// Turns a message that arrived at the bounce address into bounce and complaint events, and applies the policy. The
/// recipient is found by what can be trusted first: a signed return path (the envelope recipient, or one quoted in the
/// report), a signed tracking token in the returned message, our Message-ID in the returned headers; only then an
/// address the report names. Processing is idempotent: the same message again adds nothing and suppresses nothing more,
/// so a receiver may answer 4xx on any failure and let the sender retry. Thread-safe.
/// </summary>
public sealed partial class BounceProcessor
{
    private const int MaxCandidates = 20;
    private const int MaxTextLength = 1000;
    private readonly IBounceStore _bounces;
    private readonly ITrackingStore _tracking;
    private readonly TokenSigner _signer;
    private readonly TimeProvider _time;

    public BounceProcessor(IBounceStore bounces, ITrackingStore tracking, TokenSigner signer, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(bounces);
        ArgumentNullException.ThrowIfNull(tracking);
        ArgumentNullException.ThrowIfNull(signer);
        _bounces = bounces;
        _tracking = tracking;
        _signer = signer;
        _time = time ?? TimeProvider.System;
    }

    [GeneratedRegex(@"(?<![A-Za-z0-9_-])b-[a-z2-7]{30,62}(?![a-z2-7])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ReturnPathPattern();

    [GeneratedRegex(@"/[uoc]/([A-Za-z0-9_-]{20,600})", RegexOptions.CultureInvariant)]
    private static partial Regex TrackingTokenPattern();

    // Our Message-IDs (MessageIds.Create): up to 40 characters of campaign, a dot, 24 hex digits, @domain.
    [GeneratedRegex(@"(?<![A-Za-z0-9_.-])(?:[A-Za-z0-9_-]{1,40}\.)?[0-9a-f]{24}@[A-Za-z0-9.-]{1,253}", RegexOptions.CultureInvariant)]
    private static partial Regex OurMessageIdPattern();

    /// <summary>
    /// Processes the raw bytes of one message. Throws <see cref="StoreException"/> when the store fails (nothing is lost:
    /// process the same bytes again later); never for bad mail, which comes back as <see cref="BounceDisposition.Quarantine"/>.
    /// </summary>
    public async Task<BounceOutcome> ProcessAsync(ReadOnlyMemory<byte> raw, BounceEnvelope envelope, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        MimeMessage message;
        try
        {
            using var stream = new MemoryStream(raw.ToArray(), writable: false);
            message = await MimeMessage.LoadAsync(stream, cancellationToken).ConfigureAwait(false);
        }
        catch (FormatException ex)
        {
            return BounceOutcome.Quarantined($"not a MIME message: {ex.Message}");
        }

        using (message)
        {
            BounceReport report;
            try
            {
                report = BounceReader.Read(message);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException or NotSupportedException)
            {
                return BounceOutcome.Quarantined($"unreadable MIME structure: {ex.Message}");
            }

            var key = report.ReportMessageId is { Length: > 0 } id ? "id:" + id : "sha256:" + Convert.ToHexString(SHA256.HashData(raw.Span));
            var at = EventTime(report.Date);
            return report.Kind switch
            {
                BounceReportKind.AutoReply => BounceOutcome.Ignore("auto-reply (out of office, vacation): ignored"),
                BounceReportKind.Unknown => BounceOutcome.Quarantined("neither a bounce, a complaint nor an auto-reply"),
                BounceReportKind.Feedback => await ComplaintAsync(report, envelope, key, at, cancellationToken).ConfigureAwait(false),
                BounceReportKind.DeliveryStatus => await DeliveryStatusAsync(report, envelope, key, at, cancellationToken).ConfigureAwait(false),
                _ => await NonStandardAsync(report, envelope, key, at, cancellationToken).ConfigureAwait(false),
            };
        }
    }

    private async Task<BounceOutcome> DeliveryStatusAsync(BounceReport report, BounceEnvelope envelope, string key, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var failures = report.Recipients.Where(r => r.Action == "failed").ToList();
        if (failures.Count == 0)
        {
            var actions = string.Join(", ", report.Recipients.Select(r => r.Action).Distinct());
            return report.Recipients.Count == 0
                ? BounceOutcome.Quarantined("a delivery status notification without recipients")
                : BounceOutcome.Ignore($"delivery status notification ({actions}): not a failure, nothing recorded");
        }

        var identified = await IdentifyAsync(report, envelope, cancellationToken).ConfigureAwait(false);
        var events = new List<BounceEvent>();
        foreach (var failure in failures)
        {
            LedgerRecipient? recipient = null;
            if (identified is { } known && (failures.Count == 1 || Matches(known.Recipient, failure)))
            {
                // Trust the signed identity over the report's address: forwarding rewrites Final-Recipient.
                recipient = known.Recipient;
            }
            else
            {
                foreach (var address in new[] { failure.OriginalRecipient, failure.FinalRecipient })
                {
                    if (BounceReader.Address(address) is { } email
                        && await _bounces.FindByEmailAsync(email, identified?.Recipient.CampaignId, cancellationToken).ConfigureAwait(false) is { } byEmail)
                    {
                        recipient = byEmail;
                        break;
                    }
                }
            }

            if (recipient is null)
            {
                continue;
            }

            var classification = BounceClassifier.Classify(failure.Status, failure.Diagnostic);
            events.Add(NewEvent(key, at, recipient, classification.Type, classification.Code, failure.Diagnostic ?? $"Status: {failure.Status}", BounceSource.Dsn));
        }

        return events.Count == 0
            ? BounceOutcome.Quarantined($"a delivery status notification about {string.Join(", ", failures.Select(f => f.FinalRecipient))}, not a recipient of this store")
            : await RecordAsync(events, cancellationToken).ConfigureAwait(false);
    }

    private async Task<BounceOutcome> ComplaintAsync(BounceReport report, BounceEnvelope envelope, string key, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var feedback = report.Feedback!;
        if (feedback.Type is not ("abuse" or "fraud"))
        {
            return BounceOutcome.Ignore($"feedback report of type '{feedback.Type}': not a complaint, nothing recorded");
        }

        var identified = await IdentifyAsync(report, envelope, cancellationToken).ConfigureAwait(false);
        if (identified is null)
        {
            return BounceOutcome.Quarantined("a complaint about no recipient of this store (no return path, token, Message-ID or address found)");
        }

        var text = $"feedback-type: {feedback.Type}" + (feedback.UserAgent is { } agent ? $"; user-agent: {agent}" : string.Empty);
        return await RecordAsync([NewEvent(key, at, identified.Value.Recipient, BounceType.Complaint, null, text, BounceSource.Arf)], cancellationToken).ConfigureAwait(false);
    }

    private async Task<BounceOutcome> NonStandardAsync(BounceReport report, BounceEnvelope envelope, string key, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var identified = await IdentifyAsync(report, envelope, cancellationToken).ConfigureAwait(false);
        if (identified is not { } known)
        {
            return BounceOutcome.Quarantined("a bounce without a machine-readable report, about no recipient of this store");
        }

        var classification = BounceClassifier.Classify(null, report.Diagnostic);
        var source = known.By == Evidence.ReturnPath ? BounceSource.Verp : BounceSource.Headers;
        return await RecordAsync([NewEvent(key, at, known.Recipient, classification.Type, classification.Code, report.Diagnostic, source)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How a recipient was found, most trusted first.</summary>
    private enum Evidence
    {
        ReturnPath,
        TrackingToken,
        MessageId,
        Address,
    }

    private async Task<(LedgerRecipient Recipient, Evidence By)?> IdentifyAsync(BounceReport report, BounceEnvelope envelope, CancellationToken cancellationToken)
    {
        // 1. A signed return path: the envelope recipient, else one quoted in the report (imported mail, ARF's Original-Mail-From).
        var returnPaths = envelope.Recipients.Concat(ReturnPathPattern().Matches(report.Evidence).Select(m => m.Value))
            .Distinct(StringComparer.OrdinalIgnoreCase).Take(MaxCandidates);
        foreach (var candidate in returnPaths)
        {
            if (_signer.TryVerifyReturnPath(candidate, out var token)
                && await _bounces.FindByRowAsync(token.Row, cancellationToken).ConfigureAwait(false) is { } row && token.IsFor(row.CampaignId))
            {
                return (row, Evidence.ReturnPath);
            }
        }

        // 2. A signed tracking token in the returned message (List-Unsubscribe, links).
        foreach (var candidate in TrackingTokenPattern().Matches(report.Evidence).Select(m => m.Groups[1].Value).Distinct(StringComparer.Ordinal).Take(MaxCandidates))
        {
            if (_signer.TryVerify(candidate, out var token)
                && await _bounces.FindByRecipientIdAsync(token.CampaignId, token.RecipientId, cancellationToken).ConfigureAwait(false) is { } row)
            {
                return (row, Evidence.TrackingToken);
            }
        }

        // 3. Our Message-ID (derived from campaign and recipient) in the returned headers or quoted in the text.
        var ids = report.MessageIds.Concat(OurMessageIdPattern().Matches(report.Evidence).Select(m => m.Value)).Distinct(StringComparer.Ordinal).Take(MaxCandidates);
        foreach (var candidate in ids)
        {
            if (await _bounces.FindByMessageIdAsync(candidate, cancellationToken).ConfigureAwait(false) is { } row)
            {
                return (row, Evidence.MessageId);
            }
        }

        // 4. Only the report's word: an address it names, in the campaign that sent to it last.
        foreach (var candidate in report.FailedAddresses)
        {
            if (await _bounces.FindByEmailAsync(candidate, null, cancellationToken).ConfigureAwait(false) is { } row)
            {
                return (row, Evidence.Address);
            }
        }

        return null;
    }

    private static bool Matches(LedgerRecipient recipient, DsnRecipient failure) =>
        string.Equals(recipient.Email, failure.FinalRecipient, StringComparison.OrdinalIgnoreCase)
        || string.Equals(recipient.Email, failure.OriginalRecipient, StringComparison.OrdinalIgnoreCase);

    private DateTimeOffset EventTime(DateTimeOffset? reported)
    {
        var now = _time.GetUtcNow();
        // The report's own date places an imported old bounce in its time (soft bounces count within a window); a date
        // in the future is someone's clock, not news.
        return reported is { } date && date <= now ? date.ToUniversalTime() : now;
    }

    private static BounceEvent NewEvent(string key, DateTimeOffset at, LedgerRecipient recipient, BounceType type, string? code, string? text, BounceSource source)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{key}\0{recipient.Row}\0{(int)type}"), hash);
        var trimmed = text is null ? null : BounceReader.Collapse(text);
        if (trimmed is { Length: > MaxTextLength })
        {
            trimmed = trimmed[..MaxTextLength];
        }

        return new BounceEvent(new Guid(hash[..16]), at, recipient.CampaignId, recipient.RecipientId, recipient.Email, type, code, trimmed, source);
    }
}
