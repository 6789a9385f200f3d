using YamlDotNet.RepresentationModel;

namespace Herald.Campaigns;

/// <summary>The <c>tracking</c> section.</summary>
public sealed class TrackingOptions
{
    /// <summary>Public base URL of <c>herald serve</c>, without a trailing slash.</summary>
    public required string BaseUrl { get; init; }

    public bool Clicks { get; init; } = true;

    public bool Opens { get; init; } = true;

    internal static TrackingOptions? Parse(YamlNode node, CampaignParseContext context)
    {
        if (context.Mapping(node, "tracking") is not { } map)
        {
            return null;
        }

        string? baseUrl = null;
        bool clicks = true, opens = true;
        foreach (var (keyNode, value) in map.Children)
        {
            switch (context.KeyOf(keyNode))
            {
                case "base_url":
                    var text = context.Scalar(value, "tracking.base_url");
                    if (text is null)
                    {
                        break;
                    }

                    if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
                        || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
                    {
                        context.Add(value, $"tracking.base_url: '{text}' is not an http(s) URL without query (for example https://t.shop.example.com)");
                        break;
                    }

                    baseUrl = text.TrimEnd('/');
                    break;
                case "clicks":
                    clicks = context.Bool(value, "tracking.clicks") ?? clicks;
                    break;
                case "opens":
                    opens = context.Bool(value, "tracking.opens") ?? opens;
                    break;
                case null:
                    break;
                case var other:
                    context.Unknown(keyNode, other, "base_url", "clicks", "opens");
                    break;
            }
        }

        if (baseUrl is null)
        {
            context.Require(map, null, "tracking.base_url", "the public URL of `herald serve`, used by the unsubscribe link");
            return null;
        }

        return new TrackingOptions { BaseUrl = baseUrl, Clicks = clicks, Opens = opens };
    }
}
