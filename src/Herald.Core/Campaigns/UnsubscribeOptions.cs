using Herald.Recipients;
using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>The <c>unsubscribe</c> section.</summary>
public sealed class UnsubscribeOptions
{
    /// <summary>Optional mailto address offered in List-Unsubscribe besides the https URL.</summary>
    public string? Mailto { get; init; }

    internal static UnsubscribeOptions Parse(YamlNode node, CampaignParseContext context)
    {
        string? mailto = null;
        if (context.Mapping(node, "unsubscribe") is { } map)
        {
            foreach (var (keyNode, value) in map.Children)
            {
                switch (context.KeyOf(keyNode))
                {
                    case "mailto":
                        var text = context.Scalar(value, "unsubscribe.mailto");
                        if (text is null)
                        {
                            break;
                        }

                        var address = text.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase) ? text[7..] : text;
                        if (!EmailAddress.TryNormalize(address, out var normalized, out var error))
                        {
                            context.Add(value, $"unsubscribe.mailto: '{text}' is not an email address ({error})");
                            break;
                        }

                        mailto = normalized;
                        break;
                    case null:
                        break;
                    case var other:
                        context.Unknown(keyNode, other, "mailto");
                        break;
                }
            }
        }

        return new UnsubscribeOptions { Mailto = mailto };
    }
}
