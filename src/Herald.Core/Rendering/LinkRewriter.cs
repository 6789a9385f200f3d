using System.Net;
using System.Text;

namespace Herald.Rendering;

/// <summary>A tracked link of the HTML template, numbered from 1 in source order.</summary>
/// <param name="Number">Link number carried in click tokens.</param>
/// <param name="StaticTarget">The target when the URL has no Liquid; null when it is rendered per recipient.</param>
/// <param name="Line">1-based line of the href in the HTML template.</param>
/// <param name="Column">1-based column of the href value.</param>
/// <param name="Label">What reports call the link: its <c>data-herald-label</c>, else its text (an image's alt text), else its URL.</param>
internal sealed record TrackedLink(int Number, string? StaticTarget, int Line, int Column, string Label = "");

/// <summary>The HTML template with tracking applied, and the text template derived from it.</summary>
internal sealed record RewrittenTemplate(string Html, string DerivedText, IReadOnlyList<TrackedLink> Links);

/// <summary>
/// Rewrites the HTML template source once, at compile time: tracked <c>href</c>s become a Liquid expression that
/// signs a click token per recipient (for a URL with Liquid, the rendered URL is captured and signed as the target);
/// the open pixel goes before <c>&lt;/body&gt;</c>. The same pass derives a plain-text template (links as
/// <c>text (url)</c>), so no rendered message is ever parsed.
/// </summary>
internal static class LinkRewriter
{
    public const string LinkFilter = "herald_link";
    public const string CaptureVariable = "__herald_link";
    public const string OpenVariable = "__herald_open";

    private static readonly HashSet<string> BlockTags = new(StringComparer.Ordinal)
    {
        "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "section", "article",
        "header", "footer", "hr", "center", "tbody", "thead", "tfoot", "dl", "dt", "dd", "pre", "address", "nav", "main",
    };

    private static readonly HashSet<string> HiddenTags = new(StringComparer.Ordinal) { "head", "style", "script", "title", "template" };

    public static RewrittenTemplate Rewrite(string source, bool trackClicks, bool trackOpens)
    {
        var tokens = TemplateSource.Tokenize(source);
        var html = new StringBuilder(source.Length + 2048);
        var text = new StringBuilder(source.Length / 4);
        var links = new List<TrackedLink>();
        var lastBodyClose = -1;
        for (var t = tokens.Count - 1; t >= 0; t--)
        {
            if (tokens[t].Kind == HtmlTokenKind.Tag && TemplateSource.TagName(source, tokens[t]) is ("body", true))
            {
                lastBodyClose = t;
                break;
            }
        }

        var hidden = 0;
        var openLinks = new Stack<OpenAnchor>();
        for (var t = 0; t < tokens.Count; t++)
        {
            var token = tokens[t];
            var raw = source.AsSpan(token.Start, token.End - token.Start);
            switch (token.Kind)
            {
                case HtmlTokenKind.Text:
                    html.Append(raw);
                    if (hidden == 0)
                    {
                        AppendText(text, raw);
                    }

                    break;
                case HtmlTokenKind.Comment:
                    html.Append(raw);
                    break;
                case HtmlTokenKind.Liquid:
                    html.Append(raw);
                    if (hidden == 0 || raw[1] == '%')
                    {
                        text.Append(raw);
                    }

                    break;
                case HtmlTokenKind.Tag:
                    var (name, closing) = TemplateSource.TagName(source, token);
                    if (t == lastBodyClose && trackOpens)
                    {
                        AppendOpenPixel(html);
                    }

                    if (name == "a" && !closing)
                    {
                        var tracked = links.Count;
                        var href = RewriteAnchor(source, token, trackClicks, links, html);
                        openLinks.Push(new OpenAnchor(href, links.Count > tracked ? tracked : -1, text.Length));
                    }
                    else
                    {
                        html.Append(raw);
                    }

                    DeriveTag(source, token, name, closing, text, ref hidden, openLinks, links);
                    break;
            }
        }

        if (lastBodyClose < 0 && trackOpens)
        {
            AppendOpenPixel(html);
        }

        return new RewrittenTemplate(html.ToString(), text.ToString(), links);
    }

    private static void AppendOpenPixel(StringBuilder html) =>
        html.Append("<img src=\"{{ ").Append(OpenVariable)
            .Append(" }}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0;width:1px;height:1px\" />");

    /// <summary>Writes the anchor tag (rewritten when tracked) and returns the href as a text-template expression, or null.</summary>
    private static string? RewriteAnchor(string s, HtmlToken token, bool trackClicks, List<TrackedLink> links, StringBuilder html)
    {
        var attributes = TemplateSource.Attributes(s, token);
        HtmlAttribute? href = null;
        var noTrack = false;
        string? label = null;
        foreach (var attribute in attributes)
        {
            if (attribute.Name == "href" && attribute.ValueStart >= 0 && href is null)
            {
                href = attribute;
            }
            else if (attribute.Name == "data-herald-notrack")
            {
                noTrack = true;
            }
            else if (attribute.Name == LinkLabels.Attribute && attribute.ValueStart >= 0)
            {
                label = LinkLabels.FromText(WebUtility.HtmlDecode(s[attribute.ValueStart..attribute.ValueEnd]));
            }
        }

        if (href is not { } h)
        {
            html.Append(s, token.Start, token.End - token.Start);
            return null;
        }

        var value = s.AsSpan(h.ValueStart, h.ValueEnd - h.ValueStart);
        var trimmed = value.Trim();
        var hasLiquid = TemplateSource.ContainsLiquid(trimmed);
        var textHref = DecodeLiteralParts(value.ToString());
        if (trimmed.IsEmpty || trimmed[0] == '#')
        {
            html.Append(s, token.Start, token.End - token.Start);
            return null;
        }

        var isHttp = trimmed.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        var isUnsubscribe = hasLiquid && trimmed.Contains("unsubscribe_url", StringComparison.Ordinal);

        // A URL made only of Liquid ({{ p.url }}) may render to http(s) or not: the filter decides per recipient.
        var track = trackClicks && !noTrack && !isUnsubscribe && (isHttp || (hasLiquid && trimmed.StartsWith("{", StringComparison.Ordinal)));
        if (!track)
        {
            html.Append(s, token.Start, token.End - token.Start);
            return textHref;
        }

        var number = links.Count + 1;
        var (line, column) = TemplateSource.Position(s, h.ValueStart);
        string htmlExpression, textExpression;
        if (hasLiquid)
        {
            links.Add(new TrackedLink(number, null, line, column, label ?? string.Empty));
            htmlExpression = $"{{% capture {CaptureVariable} %}}{trimmed}{{% endcapture %}}{{{{ {CaptureVariable} | {LinkFilter}: {number} }}}}";
            textExpression = $"{{% capture {CaptureVariable} %}}{DecodeLiteralParts(trimmed.ToString())}{{% endcapture %}}{{{{ {CaptureVariable} | {LinkFilter}: {number} }}}}";
        }
        else
        {
            links.Add(new TrackedLink(number, WebUtility.HtmlDecode(trimmed.ToString()), line, column, label ?? string.Empty));
            htmlExpression = $"{{{{ {number} | {LinkFilter} }}}}";
            textExpression = htmlExpression;
        }

        html.Append(s, token.Start, h.ValueStart - token.Start);
        html.Append(htmlExpression);
        html.Append(s, h.ValueEnd, token.End - h.ValueEnd);
        return textExpression;
    }

    private static void DeriveTag(string s, HtmlToken token, string name, bool closing, StringBuilder text, ref int hidden, Stack<OpenAnchor> openLinks, List<TrackedLink> links)
    {
        if (HiddenTags.Contains(name))
        {
            hidden = closing ? Math.Max(0, hidden - 1) : hidden + 1;
        }

        // Control flow written inside a tag ({% if %} around an attribute) must stay balanced in the text template.
        foreach (var liquid in TemplateSource.LiquidInTag(s, token))
        {
            if (liquid.StartsWith("{%", StringComparison.Ordinal))
            {
                text.Append(liquid);
            }
        }

        if (hidden > 0)
        {
            return;
        }

        switch (name)
        {
            case "br":
                text.Append('\n');
                break;
            case "li":
                text.Append(closing ? "\n" : "\n- ");
                break;
            case "td" or "th":
                if (closing)
                {
                    text.Append(' ');
                }

                break;
            case "a" when closing:
                if (openLinks.Count > 0 && openLinks.Pop() is var anchor)
                {
                    if (anchor.Link >= 0 && links[anchor.Link].Label.Length == 0)
                    {
                        links[anchor.Link] = links[anchor.Link] with { Label = LinkLabels.FromText(text.ToString(anchor.TextStart, text.Length - anchor.TextStart)) };
                    }

                    if (anchor.Href is { } href)
                    {
                        text.Append(" (").Append(href).Append(')');
                    }
                }

                break;
            case "img" when !closing:
                foreach (var attribute in TemplateSource.Attributes(s, token))
                {
                    if (attribute.Name == "alt" && attribute.ValueStart >= 0 && attribute.ValueEnd > attribute.ValueStart)
                    {
                        AppendText(text, s.AsSpan(attribute.ValueStart, attribute.ValueEnd - attribute.ValueStart));
                    }
                }

                break;
            default:
                if (BlockTags.Contains(name))
                {
                    text.Append('\n');
                }

                break;
        }
    }

    /// <summary>Appends HTML text as plain text: entities decoded, whitespace collapsed.</summary>
    private static void AppendText(StringBuilder text, ReadOnlySpan<char> raw)
    {
        var decoded = raw.Contains('&') ? WebUtility.HtmlDecode(raw.ToString()).AsSpan() : raw;
        var lastWasSpace = text.Length > 0 && text[^1] is ' ' or '\n';
        foreach (var c in decoded)
        {
            if (char.IsWhiteSpace(c))
            {
                if (!lastWasSpace)
                {
                    text.Append(' ');
                    lastWasSpace = true;
                }
            }
            else
            {
                text.Append(c);
                lastWasSpace = false;
            }
        }
    }

    /// <summary>HTML-decodes the literal parts of an attribute value, leaving its Liquid untouched.</summary>
    private static string DecodeLiteralParts(string value)
    {
        if (!value.Contains('&'))
        {
            return value;
        }

        var result = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            var open = IndexOfLiquid(value, i);
            if (open < 0)
            {
                result.Append(WebUtility.HtmlDecode(value[i..]));
                break;
            }

            result.Append(WebUtility.HtmlDecode(value[i..open]));
            var end = TemplateSource.LiquidEnd(value, open);
            result.Append(value, open, end - open);
            i = end;
        }

        return result.ToString();
    }

    private static int IndexOfLiquid(string s, int from)
    {
        var a = s.IndexOf("{{", from, StringComparison.Ordinal);
        var b = s.IndexOf("{%", from, StringComparison.Ordinal);
        return a < 0 ? b : b < 0 ? a : Math.Min(a, b);
    }

    /// <summary>An anchor whose closing tag has not been seen: its text-template href, its tracked link (or -1) and where its text starts.</summary>
    private readonly record struct OpenAnchor(string? Href, int Link, int TextStart);
}
