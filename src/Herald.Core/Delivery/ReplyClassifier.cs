namespace Herald.Delivery;

/// <summary>Who a failed attempt is about: decides whether the recipient pays for it.</summary>
public enum Blame
{
    /// <summary>Delivered, or in doubt: nothing to blame.</summary>
    None,

    /// <summary>About this recipient (unknown user, mailbox full…): the normal retry and failure rules apply.</summary>
    Recipient,

    /// <summary>
    /// About the sender or the relay itself, whatever the recipient (5xx to MAIL FROM, authentication required or
    /// refused, a 5xx greeting): one is proof; the relay leaves the rotation and the recipient stays pending.
    /// </summary>
    Relay,

    /// <summary>
    /// A policy or spam block (5.7.x, 5.3.x) that may be about this recipient or about the sender's reputation: many in a
    /// row on one relay mean the latter.
    /// </summary>
    Policy,

    /// <summary>A temporary failure (4xx, a connection lost before the final dot): many in a row on one relay are a storm.</summary>
    Transient,
}

/// <summary>
/// Maps a classified attempt to <see cref="Blame"/>, by the RFC 3463 enhanced status code when the relay gave one and
/// by the basic code, the stage and (for relays that give no enhanced code) a few words of the text otherwise.
/// </summary>
public static class ReplyClassifier
{
    private static readonly string[] PolicyWords =
    [
        "spam", "blocked", "blacklist", "blocklist", "block list", "black list", "policy", "reputation", "not authorized",
        "not permitted", "relay access denied", "relaying denied", "dmarc", "spf", "dkim",
    ];

    public static Blame Classify(AttemptResult result)
    {
        switch (result.Kind)
        {
            case AttemptKind.Delivered or AttemptKind.InDoubt:
                return Blame.None;
            case AttemptKind.Retry:
                return Blame.Transient;
        }

        var code = result.Code ?? 0;
        var enhanced = result.Enhanced;
        if (IsAuthentication(code, enhanced))
        {
            return Blame.Relay;
        }

        if (result.Stage == SmtpStage.Mail)
        {
            // MAIL FROM carries nothing of the recipient: its refusal is about the sender, for every recipient.
            return Blame.Relay;
        }

        if (enhanced is { } e)
        {
            return e.Subject switch
            {
                7 or 3 => Blame.Policy,
                _ => Blame.Recipient,
            };
        }

        var text = result.Text;
        foreach (var word in PolicyWords)
        {
            if (text.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return Blame.Policy;
            }
        }

        return Blame.Recipient;
    }

    /// <summary>
    /// Permanent replies that mean the relay wants (other) credentials or encryption (RFC 4954, RFC 3207): 530 auth or
    /// STARTTLS required, 534 mechanism too weak, 535 credentials invalid, 538 encryption required, and their
    /// enhanced codes 5.7.8, 5.7.9, 5.7.11, 5.7.13 (account disabled), 5.7.14 (trust relationship required).
    /// </summary>
    internal static bool IsAuthentication(int code, EnhancedStatusCode? enhanced) =>
        code is 530 or 534 or 535 or 538
        || (code / 100 == 5 && enhanced is { Class: 5, Subject: 7, Detail: 8 or 9 or 11 or 13 or 14 });
}
