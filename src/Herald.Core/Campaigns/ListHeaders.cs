using System.Text;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>
/// The <c>list_id</c> key and the <c>feedback_id</c> section: the <c>List-Id</c> (RFC 2919) and Gmail's
/// <c>Feedback-ID</c> headers every message carries. Both are the same for every message of a campaign.
/// </summary>
public static class ListHeaders
{
    /// <summary>The third field of Feedback-ID: which mailer sent it, so Herald's traffic is its own row in Postmaster Tools.</summary>
    public const string Mailer = "herald";

    /// <summary>The default second field of Feedback-ID (the kind of mail).</summary>
    public const string DefaultStream = "promo";

    private static readonly string[] FeedbackKeys = ["stream", "sender_id"];

    /// <summary>
    /// The default List-Id, <c>&lt;campaign-id.from-domain&gt;</c>. It changes with the campaign; a list that lives
    /// across campaigns (a newsletter) should set <c>list_id</c> once so receivers' filters keep matching.
    /// </summary>
    public static string DefaultListId(string campaignId, string fromDomain)
    {
        var label = string.Join('.', campaignId.ToLowerInvariant().Split('.', StringSplitOptions.RemoveEmptyEntries));
        return $"<{(label.Length == 0 ? "campaign" : label)}.{fromDomain.ToLowerInvariant()}>";
    }

    /// <summary>
    /// Feedback-ID in Gmail's <c>a:b:c:SenderId</c> form: <c>campaign-id:stream:herald:sender-id</c>. Each field groups
    /// many messages (never one recipient), and no two fields repeat a value, as Gmail's feedback loop asks.
    /// </summary>
    public static string FeedbackId(string campaignId, string stream, string senderId) =>
        $"{campaignId}:{stream}:{Mailer}:{senderId}";

    /// <summary>
    /// The default SenderId: the From domain without its last label, letters and digits only, at most 15
    /// (<c>news.shop.example.com</c> → <c>newsshopexample</c>); null when that is shorter than Gmail's 5.
    /// </summary>
    public static string? DefaultSenderId(string fromDomain)
    {
        var labels = fromDomain.Split('.');
        var builder = new StringBuilder(15);
        foreach (var c in string.Concat(labels.Length > 1 ? labels[..^1] : labels))
        {
            if (builder.Length == 15)
            {
                break;
            }

            if (char.IsAsciiLetterOrDigit(c))
            {
                builder.Append(char.ToLowerInvariant(c));
            }
        }

        return builder.Length >= 5 ? builder.ToString() : null;
    }

    /// <summary>Parses <c>list_id</c>: <c>newsletter.shop.example.com</c> or <c>Shop news &lt;newsletter.shop.example.com&gt;</c>.</summary>
    internal static string? ParseListId(YamlNode node, CampaignParseContext context)
    {
        var text = context.Scalar(node, "list_id");
        if (text is null)
        {
            return null;
        }

        text = text.Trim();
        string? phrase = null;
        var id = text;
        var open = text.IndexOf('<', StringComparison.Ordinal);
        if (open >= 0)
        {
            if (!text.EndsWith('>'))
            {
                context.Add(node, $"list_id: '{text}' is not 'Name <list.example.com>' or 'list.example.com'");
                return null;
            }

            phrase = text[..open].Trim().Trim('"').Trim();
            id = text[(open + 1)..^1].Trim();
        }

        if (phrase is not null && phrase.AsSpan().IndexOfAny("\"<>\r\n\\") >= 0)
        {
            context.Add(node, "list_id: the name may not contain quotes, angle brackets, backslashes or line breaks");
            return null;
        }

        if (!IsDotAtom(id) || !id.Contains('.', StringComparison.Ordinal) || id.Length > 255)
        {
            context.Add(node, $"list_id: '{id}' is not a list identifier (a dotted name such as newsletter.shop.example.com, RFC 2919)");
            return null;
        }

        if (string.IsNullOrEmpty(phrase))
        {
            return $"<{id}>";
        }

        // An encoded word may not stand inside quotes (RFC 2047 §5): a non-ASCII name is encoded as a phrase instead.
        return System.Text.Ascii.IsValid(phrase)
            ? $"\"{phrase}\" <{id}>"
            : $"{Encoding.ASCII.GetString(MimeKit.Utils.Rfc2047.EncodePhrase(Encoding.UTF8, phrase))} <{id}>";
    }

    /// <summary>Parses <c>feedback_id</c>; returns (stream, sender id), either null when not given.</summary>
    internal static (string? Stream, string? SenderId) ParseFeedbackId(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "feedback_id") is not { } map)
        {
            return (null, null);
        }

        string? stream = null, sender = null;
        foreach (var (keyNode, value) in map.Children)
        {
            switch (context.KeyOf(keyNode))
            {
                case "stream":
                    stream = Field(value, "feedback_id.stream", 1, 64, context);
                    break;
                case "sender_id":
                    sender = Field(value, "feedback_id.sender_id", 5, 15, context);
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, FeedbackKeys);
                    break;
            }
        }

        return (stream, sender);
    }

    private static string? Field(YamlNode value, string label, int min, int max, CampaignParseContext context)
    {
        var text = context.Scalar(value, label);
        if (text is null)
        {
            return null;
        }

        if (text.Length < min || text.Length > max || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            context.Add(value, $"{label}: '{text}' must be {min} to {max} letters, digits, '-', '_' or '.' (no ':' or spaces: it is one field of Feedback-ID)");
            return null;
        }

        return text;
    }

    private static bool IsDotAtom(string text)
    {
        if (text.Length == 0 || text[0] == '.' || text[^1] == '.' || text.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        return text.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c, StringComparison.Ordinal));
    }
}
