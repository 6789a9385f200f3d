using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>The <c>addresses</c> section: how recipient addresses are compared.</summary>
public sealed class AddressOptions
{
    /// <summary>
    /// Compare local parts case-sensitively when deduplicating (<c>Zoe@x</c> and <c>zoe@x</c> are then two
    /// recipients). Off by default, as every major mailbox provider ignores the case. The suppression list compares
    /// case-insensitively in every campaign: an address suppressed in one spelling is never mailed in another.
    /// </summary>
    public bool CaseSensitiveLocalPart { get; init; }

    internal static AddressOptions Parse(YamlNode node, CampaignParseContext context)
    {
        var caseSensitive = false;
        if (context.Mapping(node, "addresses") is { } map)
        {
            foreach (var (keyNode, value) in map.Children)
            {
                switch (context.KeyOf(keyNode))
                {
                    case "case_sensitive_local_part":
                        caseSensitive = context.Bool(value, "addresses.case_sensitive_local_part") ?? caseSensitive;
                        break;
                    case null:
                        break;
                    case var other:
                        context.Unknown(keyNode, other, "case_sensitive_local_part");
                        break;
                }
            }
        }

        return new AddressOptions { CaseSensitiveLocalPart = caseSensitive };
    }
}
