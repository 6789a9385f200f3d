using System.Text;
using Herald.Store;

namespace Herald.Rendering;

/// <summary>Names the tracked links for reports: <c>data-herald-label</c>, else the anchor's text, else its URL.</summary>
internal static class LinkLabels
{
    /// <summary>The attribute that names a link in reports (<c>&lt;a href="…" data-herald-label="Hero banner"&gt;</c>).</summary>
    public const string Attribute = "data-herald-label";

    /// <summary>Longest label kept; reports are tables, not documents.</summary>
    public const int MaxLength = 80;

    /// <summary>
    /// Cleans anchor text taken from the derived text template: whitespace collapsed, Liquid tags dropped and Liquid
    /// output kept as its source (<c>{{ p.name }}</c>: in a product loop that is the most telling name there is).
    /// </summary>
    public static string FromText(string text)
    {
        var result = new StringBuilder(Math.Min(text.Length, MaxLength + 1));
        var i = 0;
        while (i < text.Length && result.Length <= MaxLength)
        {
            if (text[i] == '{' && i + 1 < text.Length && text[i + 1] is '{' or '%')
            {
                var close = text.IndexOf(text[i + 1] == '{' ? "}}" : "%}", i + 2, StringComparison.Ordinal);
                var end = close < 0 ? text.Length : close + 2;
                if (text[i + 1] == '{')
                {
                    AppendCollapsed(result, $"{{{{ {text[(i + 2)..(close < 0 ? text.Length : close)].Trim()} }}}}");
                }

                i = end;
                continue;
            }

            AppendCollapsed(result, text.AsSpan(i, 1));
            i++;
        }

        var label = result.ToString().Trim();
        return label.Length > MaxLength ? label[..(MaxLength - 1)].TrimEnd() + "…" : label;
    }

    /// <summary>The catalogue entry of a link: its label, or its URL, or "link N" when it has neither.</summary>
    public static LinkDefinition Define(TrackedLink link)
    {
        var label = link.Label.Length > 0 ? link.Label : link.StaticTarget ?? $"link {link.Number}";
        return new LinkDefinition(link.Number, label.Length > MaxLength ? label[..(MaxLength - 1)] + "…" : label, link.StaticTarget);
    }

    private static void AppendCollapsed(StringBuilder result, ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                if (result.Length > 0 && result[^1] != ' ')
                {
                    result.Append(' ');
                }
            }
            else
            {
                result.Append(c);
            }
        }
    }
}
