using Herald.Recipients;
using Herald.Store;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>
/// The <c>bounces</c> section: the variable envelope return path's domain and this campaign's bounce policy (each key
/// overrides the store's policy, which overrides the built-in default; see docs/DELIVERABILITY.md).
/// </summary>
public sealed class BounceOptions
{
    private static readonly string[] Keys =
    [
        "domain", "hard_bounces", "soft_bounces", "soft_window", "complaints",
        "pause_at_hard_bounce_rate", "hard_bounce_window", "pause_at_complaint_rate",
    ];

    /// <summary>
    /// When set, each message's MAIL FROM is <c>b-TOKEN@Domain</c> (lowercase, ASCII), so an asynchronous bounce names its
    /// recipient; <c>herald bounces listen</c> accepts mail for this domain. Null: MAIL FROM is the From address.
    /// </summary>
    public string? Domain { get; init; }

    /// <summary>What the campaign file sets of the policy; unset fields come from the store, then the default.</summary>
    public BouncePolicySettings Policy { get; init; } = BouncePolicySettings.None;

    /// <summary>
    /// The campaign pauses when more than this share of its last <see cref="HardBounceWindow"/> attempts hard-bounced
    /// (<c>pause_at_hard_bounce_rate</c>, default 5 %); null: never.
    /// </summary>
    public double? PauseAtHardBounceRate { get; init; } = 0.05;

    /// <summary>How many of the latest attempts the hard-bounce rate is taken over (<c>hard_bounce_window</c>, default 1,000).</summary>
    public int HardBounceWindow { get; init; } = 1000;

    /// <summary>The campaign pauses when complaints reach this share of its delivered messages (<c>pause_at_complaint_rate</c>, default 0.3 %); null: never.</summary>
    public double? PauseAtComplaintRate { get; init; } = 0.003;

    internal static BounceOptions Parse(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "bounces") is not { } map)
        {
            return new BounceOptions();
        }

        string? domain = null;
        var defaults = new BounceOptions();
        double? hardRate = defaults.PauseAtHardBounceRate, complaintRate = defaults.PauseAtComplaintRate;
        var window = defaults.HardBounceWindow;
        bool? hard = null, complaints = null;
        int? soft = null;
        TimeSpan? softWindow = null;
        foreach (var (keyNode, value) in map.Children)
        {
            switch (context.KeyOf(keyNode))
            {
                case "domain":
                    domain = ParseDomain(value, context);
                    break;
                case "hard_bounces":
                    hard = SuppressOrRecord(value, context, "bounces.hard_bounces");
                    break;
                case "soft_bounces":
                    soft = context.Int(value, "bounces.soft_bounces", 0, 1000);
                    break;
                case "soft_window":
                    softWindow = context.Duration(value, "bounces.soft_window");
                    break;
                case "complaints":
                    complaints = SuppressOrRecord(value, context, "bounces.complaints");
                    break;
                case "pause_at_hard_bounce_rate":
                    hardRate = Rate(value, context, "bounces.pause_at_hard_bounce_rate", hardRate);
                    break;
                case "hard_bounce_window":
                    window = context.Int(value, "bounces.hard_bounce_window", 10, 1_000_000) ?? window;
                    break;
                case "pause_at_complaint_rate":
                    complaintRate = Rate(value, context, "bounces.pause_at_complaint_rate", complaintRate);
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, Keys);
                    break;
            }
        }

        return new BounceOptions
        {
            Domain = domain,
            Policy = new BouncePolicySettings(hard, soft, softWindow, complaints),
            PauseAtHardBounceRate = hardRate,
            HardBounceWindow = window,
            PauseAtComplaintRate = complaintRate,
        };
    }

    /// <summary><c>suppress</c> or <c>record</c> (keep the event, suppress nothing).</summary>
    internal static bool? SuppressOrRecord(YamlNode node, CampaignParseContext context, string label)
    {
        var text = context.Scalar(node, label);
        switch (text)
        {
            case null:
                return null;
            case "suppress":
                return true;
            case "record":
                return false;
            default:
                context.Add(node, $"{label}: expected 'suppress' or 'record', got '{text}'");
                return null;
        }
    }

    /// <summary>A share: <c>5%</c>, <c>0.3%</c>, or <c>off</c> (never pause for it).</summary>
    private static double? Rate(YamlNode node, CampaignParseContext context, string label, double? current)
    {
        var text = context.Scalar(node, label);
        if (text is null)
        {
            return current;
        }

        if (text is "off" or "none")
        {
            return null;
        }

        var trimmed = text.Trim();
        if (trimmed.EndsWith('%')
            && double.TryParse(trimmed[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var percent)
            && percent is > 0 and <= 100)
        {
            return percent / 100;
        }

        context.Add(node, $"{label}: expected a percentage such as 5% or 0.3%, or off; got '{text}'");
        return current;
    }

    private static string? ParseDomain(YamlNode node, CampaignParseContext context)
    {
        var text = context.Scalar(node, "bounces.domain");
        if (text is null)
        {
            return null;
        }

        // The address normalizer already knows what a deliverable domain is (IDN to A-labels, no literals, no spaces).
        if (text.Contains('@', StringComparison.Ordinal) || !EmailAddress.TryNormalize("b@" + text.Trim(), out var normalized, out _))
        {
            context.Add(node, $"bounces.domain: '{text}' is not a domain name, for example bounces.shop.example.com");
            return null;
        }

        return normalized[2..];
    }
}
