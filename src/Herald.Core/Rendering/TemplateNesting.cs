using Herald.Campaigns;

namespace Herald.Rendering;

/// <summary>
/// Checks a template's nesting before Fluid parses it: the parser recurses once per nested block and per
/// parenthesis, so a deep template (3,000 nested <c>{% if %}</c>) overflowed the stack and killed the process
/// instead of being reported.
/// </summary>
internal static class TemplateNesting
{
    private static readonly HashSet<string> Blocks = new(StringComparer.Ordinal)
    {
        "if", "unless", "for", "case", "capture", "tablerow", "ifchanged", "paginate", "form", "block", "macro",
    };

    /// <summary>The offset and text of the first excess, or null when the template is within the limits.</summary>
    public static (int Offset, string Message)? Check(string s)
    {
        var depth = 0;
        var i = 0;
        while (i < s.Length)
        {
            var open = s.IndexOf('{', i);
            if (open < 0 || open + 1 >= s.Length)
            {
                break;
            }

            if (s[open + 1] is not ('{' or '%'))
            {
                i = open + 1;
                continue;
            }

            var end = TemplateSource.LiquidEnd(s, open);
            if (Parentheses(s, open, end) > RenderLimits.MaxParentheses)
            {
                return (open, $"more than {RenderLimits.MaxParentheses} nested parentheses in one Liquid expression");
            }

            if (s[open + 1] == '%')
            {
                var inner = s.AsSpan(open + 2, Math.Max(0, Math.Min(end, s.Length) - open - 4)).Trim("- \t\r\n");
                var name = FirstWord(inner);
                if (name.SequenceEqual("liquid"))
                {
                    // {% liquid %}: one tag per line, no delimiters.
                    foreach (var line in inner[6..].ToString().Split('\n'))
                    {
                        if (Step(FirstWord(line.AsSpan().Trim()), ref depth))
                        {
                            return (open, TooDeep());
                        }
                    }
                }
                else if (Step(name, ref depth))
                {
                    return (open, TooDeep());
                }
            }

            i = Math.Max(end, open + 2);
        }

        return null;
    }

    private static string TooDeep() =>
        $"blocks ({{% if %}}, {{% for %}}, ...) are nested more than {RenderLimits.MaxNesting} deep; simplify the template";

    /// <summary>Applies one tag to the depth; true when the depth passes the limit.</summary>
    private static bool Step(ReadOnlySpan<char> name, ref int depth)
    {
        if (name.StartsWith("end", StringComparison.Ordinal))
        {
            depth = Math.Max(0, depth - 1);
            return false;
        }

        if (Blocks.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name))
        {
            depth++;
        }

        return depth > RenderLimits.MaxNesting;
    }

    private static ReadOnlySpan<char> FirstWord(ReadOnlySpan<char> text)
    {
        var end = 0;
        while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
        {
            end++;
        }

        return text[..end];
    }

    /// <summary>Deepest parenthesis nesting in source[start..end], outside string literals.</summary>
    private static int Parentheses(string s, int start, int end)
    {
        var depth = 0;
        var max = 0;
        var quote = '\0';
        for (var j = start; j < end && j < s.Length; j++)
        {
            var c = s[j];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '(')
            {
                max = Math.Max(max, ++depth);
            }
            else if (c == ')')
            {
                depth = Math.Max(0, depth - 1);
            }
        }

        return max;
    }
}
