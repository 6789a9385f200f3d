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
    private static readonly string[] Keys = ["domain", "hard_bounces", "soft_bounces", "soft_window", "complaints"];

    /// <summary>
    /// When set, each message's MAIL FROM is <c>b-TOKEN@Domain</c> (lowercase, ASCII), so an asynchronous bounce names its
    /// recipient; <c>herald bounces listen</c> accepts mail for this domain. Null: MAIL FROM is the From address.
    /// </summary>
    public string? Domain { get; init; }

    /// <summary>What the campaign file sets of the policy; unset fields come from the store, then the default.</summary>
    public BouncePolicySettings Policy { get; init; } = BouncePolicySettings.None;

    internal static BounceOptions Parse(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "bounces") is not { } map)
        {
            return new BounceOptions();
        }

        string? domain = null;
        bool? hard = null, complaints = null;
        int? soft = null;
        TimeSpan? window = null;
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
                    window = context.Duration(value, "bounces.soft_window");
                    break;
                case "complaints":
                    complaints = SuppressOrRecord(value, context, "bounces.complaints");
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, Keys);
                    break;
            }
        }

        return new BounceOptions { Domain = domain, Policy = new BouncePolicySettings(hard, soft, window, complaints) };
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
