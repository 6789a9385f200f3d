using System.Globalization;
using System.Text.RegularExpressions;
using Herald.Store;

namespace Herald.Bounces;

/// <summary>A classified failure: hard or soft, with the most specific code found.</summary>
/// <param name="Code">The enhanced status code (RFC 3463, <c>5.1.1</c>) when known, else the SMTP reply code; null when neither.</param>
public sealed record BounceClass(BounceType Type, string? Code);

/// <summary>
/// Tells hard bounces from soft ones by the enhanced status code (RFC 3463) and, where the code alone does not say
/// whether the address is bad (x.0.0, 5.5.x, 5.7.x, a bare 550, ...), by the reply text. A hard bounce suppresses an
/// address at once, so the rule is: hard only on evidence that the address or its domain does not (or no longer)
/// exist; anything about the sender, the message, policy, rate or the receiving system is soft.
/// </summary>
public static partial class BounceClassifier
{
    /// <summary>Words of an address that does not exist (checked only when the code leaves it open).</summary>
    private static readonly string[] HardPhrases =
    [
        "user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient", "no such address",
        "user not found", "recipient not found", "mailbox not found", "address not found", "mailbox unavailable",
        "does not exist", "doesn't exist", "not exist", "invalid recipient", "invalid mailbox", "invalid address",
        "unknown recipient", "unknown address", "unrouteable address", "unroutable address", "addressee unknown",
        "account disabled", "account has been disabled", "mailbox disabled", "mailbox is disabled", "account is disabled",
        "recipnotfound", "recipientnotfound", "doesn't have a", "does not have a", "not a valid mailbox",
        "no mailbox here", "mailbox does not", "host not found", "domain not found", "no such domain",
        "recipient address rejected: user", "recipient address rejected: access denied", "user doesn't", "user does not",
        "account that you tried to reach does not exist", "account that you tried to reach is disabled",
    ];

    /// <summary>Words of a temporary, policy, content or sender problem: they veto a hard reading of ambiguous codes.</summary>
    private static readonly string[] SoftPhrases =
    [
        "over quota", "quota exceeded", "exceeded storage", "mailbox full", "mailbox is full", "insufficient storage",
        "try again", "temporar", "rate limit", "rate that prevents", "too many", "too quickly", "greylist", "graylist",
        "spam", "blocked", "blacklist", "blocklist", "block list", "reputation", "policy", "unsolicited",
        "authenticat", "dmarc", "not permitted", "message size", "too large", "virus",
    ];

    [GeneratedRegex(@"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)", RegexOptions.CultureInvariant)]
    private static partial Regex EnhancedCodePattern();

    [GeneratedRegex(@"(?<![\d.])([245]\d\d)(?=[ :\-])", RegexOptions.CultureInvariant)]
    private static partial Regex ReplyCodePattern();

    /// <summary>
    /// Classifies a reported failure: <paramref name="status"/> is a DSN's <c>Status</c> field (may be null),
    /// <paramref name="text"/> its diagnostic or any reply text. A failure with no code at all is soft.
    /// </summary>
    public static BounceClass Classify(string? status, string? text)
    {
        var enhanced = ParseEnhanced(status);
        // A DSN's x.0.0 is the reporting MTA's shrug; the remote reply quoted in the diagnostic is often precise.
        if ((enhanced is null || enhanced.Value.Subject == 0) && FindEnhanced(text) is { } fromText
            && (enhanced is null || fromText.Class == enhanced.Value.Class))
        {
            enhanced = fromText;
        }

        var reply = FindReplyCode(text);
        var lower = text?.ToLowerInvariant() ?? string.Empty;
        if (enhanced is { } code)
        {
            return new BounceClass(TypeOf(code, reply, lower), code.ToString());
        }

        if (reply is { } basic)
        {
            var type = basic switch
            {
                < 500 => BounceType.Soft,
                551 or 553 => BounceType.Hard, // user not local; mailbox name not allowed
                _ => ByText(lower),
            };
            return new BounceClass(type, basic.ToString(CultureInfo.InvariantCulture));
        }

        return new BounceClass(ByText(lower), null);
    }

    /// <summary>
    /// Classifies the reply that failed a recipient during the send (as the ledger recorded it); null when it is not a
    /// bounce (no reply code, or a 2xx/3xx).
    /// </summary>
    public static BounceClass? ClassifyReply(int code, string? text) =>
        code is >= 400 and < 600 ? Classify(null, $"{code.ToString(CultureInfo.InvariantCulture)} {text}") : null;

    /// <summary>The first enhanced status code in a text, if any.</summary>
    internal static EnhancedCode? FindEnhanced(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var match = EnhancedCodePattern().Match(text);
        return match.Success ? ParseEnhanced(match.Value) : null;
    }

    private static int? FindReplyCode(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var match = ReplyCodePattern().Match(text);
        return match.Success ? int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null;
    }

    private static EnhancedCode? ParseEnhanced(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var parts = text.Trim().Split('.');
        if (parts.Length != 3 || parts[0] is not ("2" or "4" or "5")
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var subject) || subject > 999
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var detail) || detail > 999)
        {
            return null;
        }

        return new EnhancedCode(parts[0][0] - '0', subject, detail);
    }

    private static BounceType TypeOf(EnhancedCode code, int? reply, string lower)
    {
        if (code.Class != 5)
        {
            return BounceType.Soft;
        }

        return (code.Subject, code.Detail) switch
        {
            // Bad sender address syntax or system: about us, not the recipient.
            (1, 7) or (1, 8) => BounceType.Soft,
            // Addressing: unknown mailbox or domain, bad syntax, moved, null MX (RFC 7505's 5.1.10).
            (1, not 0) => BounceType.Hard,
            (2, 1) => HasAny(lower, SoftPhrases) ? BounceType.Soft : BounceType.Hard, // disabled (Gmail also uses it for "receiving mail too quickly")
            (2, 2) or (2, 3) => BounceType.Soft, // mailbox full; message too large
            (4, 4) => BounceType.Hard, // unable to route: the domain has no mail host
            (1, 0) or (2, 0) or (4, 1) or (5, _) or (7, _) or (0, _) => ByText(lower, reply),
            _ => BounceType.Soft, // 5.3.x system, 5.4.x network, 5.6.x content
        };
    }

    private static BounceType ByText(string lower, int? reply = null)
    {
        if (HasAny(lower, SoftPhrases))
        {
            return BounceType.Soft;
        }

        return HasAny(lower, HardPhrases) || reply is 551 or 553 ? BounceType.Hard : BounceType.Soft;
    }

    /// <summary>True when a text uses any of the words that tell a hard or soft failure.</summary>
    internal static bool MentionsFailure(string text)
    {
        var lower = text.ToLowerInvariant();
        return HasAny(lower, HardPhrases) || HasAny(lower, SoftPhrases);
    }

    private static bool HasAny(string lower, string[] phrases)
    {
        foreach (var phrase in phrases)
        {
            if (lower.Contains(phrase, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    internal readonly record struct EnhancedCode(int Class, int Subject, int Detail)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Class}.{Subject}.{Detail}");
    }
}
