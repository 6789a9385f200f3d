namespace Herald.Rendering;

internal enum HtmlTokenKind
{
    Text,
    Liquid,
    Tag,
    Comment,
}

/// <summary>One piece of an HTML template source: text, a Liquid tag/output, an HTML tag or a comment.</summary>
internal readonly record struct HtmlToken(HtmlTokenKind Kind, int Start, int End);

/// <summary>An attribute of an HTML tag; <see cref="ValueStart"/> is -1 when the attribute has no value.</summary>
internal readonly record struct HtmlAttribute(string Name, int NameStart, int ValueStart, int ValueEnd, char Quote);

/// <summary>
/// A tokenizer for HTML templates that contain Liquid, working on the source text: unlike an HTML5 parser it never
/// moves <c>{% for %}</c> out of a table or escapes <c>{{ }}</c> inside an attribute, and Liquid is never split.
/// </summary>
internal static class TemplateSource
{
    public static List<HtmlToken> Tokenize(string s)
    {
        var tokens = new List<HtmlToken>(256);
        var i = 0;
        var textStart = 0;
        while (i < s.Length)
        {
            var c = s[i];
            int end;
            HtmlTokenKind kind;
            if (c == '{' && i + 1 < s.Length && s[i + 1] is '{' or '%')
            {
                end = LiquidEnd(s, i);
                kind = HtmlTokenKind.Liquid;
            }
            else if (c == '<' && string.CompareOrdinal(s, i, "<!--", 0, 4) == 0)
            {
                var close = s.IndexOf("-->", i + 4, StringComparison.Ordinal);
                end = close < 0 ? s.Length : close + 3;
                kind = HtmlTokenKind.Comment;
            }
            else if (c == '<' && i + 1 < s.Length && s[i + 1] is '!' or '?')
            {
                // <!DOCTYPE ...> and processing instructions: markup, not text.
                var close = s.IndexOf('>', i + 2);
                end = close < 0 ? s.Length : close + 1;
                kind = HtmlTokenKind.Comment;
            }
            else if (c == '<' && i + 1 < s.Length && (char.IsAsciiLetter(s[i + 1]) || (s[i + 1] == '/' && i + 2 < s.Length && char.IsAsciiLetter(s[i + 2]))))
            {
                end = TagEnd(s, i);
                kind = HtmlTokenKind.Tag;
            }
            else
            {
                i++;
                continue;
            }

            if (textStart < i)
            {
                tokens.Add(new HtmlToken(HtmlTokenKind.Text, textStart, i));
            }

            tokens.Add(new HtmlToken(kind, i, end));
            i = end;
            textStart = end;
        }

        if (textStart < s.Length)
        {
            tokens.Add(new HtmlToken(HtmlTokenKind.Text, textStart, s.Length));
        }

        return tokens;
    }

    /// <summary>End (exclusive) of the Liquid construct starting at <paramref name="i"/>; raw and comment blocks are taken whole.</summary>
    public static int LiquidEnd(string s, int i)
    {
        var output = s[i + 1] == '{';
        var close = s.IndexOf(output ? "}}" : "%}", i + 2, StringComparison.Ordinal);
        var end = close < 0 ? s.Length : close + 2;
        if (!output)
        {
            var inner = s.AsSpan(i + 2, Math.Max(0, end - i - 4)).Trim("- \t\r\n");
            if (inner.SequenceEqual("raw") || inner.SequenceEqual("comment"))
            {
                var endTag = "end" + inner.ToString();
                var j = end;
                while (j < s.Length)
                {
                    var open = s.IndexOf("{%", j, StringComparison.Ordinal);
                    if (open < 0)
                    {
                        return s.Length;
                    }

                    var shut = s.IndexOf("%}", open + 2, StringComparison.Ordinal);
                    if (shut < 0)
                    {
                        return s.Length;
                    }

                    if (s.AsSpan(open + 2, shut - open - 2).Trim("- \t\r\n").SequenceEqual(endTag))
                    {
                        return shut + 2;
                    }

                    j = shut + 2;
                }

                return s.Length;
            }
        }

        return end;
    }

    private static int TagEnd(string s, int i)
    {
        var j = i + 1;
        char quote = '\0';
        while (j < s.Length)
        {
            var c = s[j];
            if (c == '{' && j + 1 < s.Length && s[j + 1] is '{' or '%')
            {
                j = LiquidEnd(s, j);
                continue;
            }

            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                // Only an attribute value opens a quote (after '=').
                var k = j - 1;
                while (k > i && char.IsWhiteSpace(s[k]))
                {
                    k--;
                }

                if (s[k] == '=')
                {
                    quote = c;
                }
            }
            else if (c == '>')
            {
                return j + 1;
            }

            j++;
        }

        return s.Length;
    }

    /// <summary>The lowercase tag name and whether it is a closing tag.</summary>
    public static (string Name, bool Closing) TagName(string s, HtmlToken tag)
    {
        var j = tag.Start + 1;
        var closing = s[j] == '/';
        if (closing)
        {
            j++;
        }

        var start = j;
        while (j < tag.End && (char.IsAsciiLetterOrDigit(s[j]) || s[j] is '-' or ':'))
        {
            j++;
        }

        return (s[start..j].ToLowerInvariant(), closing);
    }

    /// <summary>The attributes of a start tag; Liquid between attributes is skipped (see <see cref="LiquidInTag"/>).</summary>
    public static List<HtmlAttribute> Attributes(string s, HtmlToken tag)
    {
        var list = new List<HtmlAttribute>();
        var j = tag.Start + 1;
        while (j < tag.End && !char.IsWhiteSpace(s[j]) && s[j] is not '>' and not '/')
        {
            j++;
        }

        var end = s[tag.End - 1] == '>' ? tag.End - 1 : tag.End;
        while (j < end)
        {
            var c = s[j];
            if (char.IsWhiteSpace(c) || c == '/')
            {
                j++;
                continue;
            }

            if (c == '{' && j + 1 < end && s[j + 1] is '{' or '%')
            {
                j = LiquidEnd(s, j);
                continue;
            }

            var nameStart = j;
            while (j < end && !char.IsWhiteSpace(s[j]) && s[j] is not '=' and not '>' and not '/' && !(s[j] == '{' && j + 1 < end && s[j + 1] is '{' or '%'))
            {
                j++;
            }

            var name = s[nameStart..j].ToLowerInvariant();
            var k = j;
            while (k < end && char.IsWhiteSpace(s[k]))
            {
                k++;
            }

            if (k < end && s[k] == '=')
            {
                k++;
                while (k < end && char.IsWhiteSpace(s[k]))
                {
                    k++;
                }

                var quote = k < end && s[k] is '"' or '\'' ? s[k] : '\0';
                var valueStart = quote == '\0' ? k : k + 1;
                var v = valueStart;
                while (v < end)
                {
                    if (s[v] == '{' && v + 1 < end && s[v + 1] is '{' or '%')
                    {
                        v = LiquidEnd(s, v);
                        continue;
                    }

                    if (quote != '\0' ? s[v] == quote : char.IsWhiteSpace(s[v]))
                    {
                        break;
                    }

                    v++;
                }

                var valueEnd = Math.Min(v, end);
                list.Add(new HtmlAttribute(name, nameStart, valueStart, valueEnd, quote));
                j = quote != '\0' && v < end ? v + 1 : v;
            }
            else
            {
                list.Add(new HtmlAttribute(name, nameStart, -1, -1, '\0'));
                if (j == nameStart)
                {
                    j++;
                }
            }
        }

        return list;
    }

    /// <summary>The Liquid constructs (as source text) inside a tag, in order: control tags must survive when the tag is dropped.</summary>
    public static IEnumerable<string> LiquidInTag(string s, HtmlToken tag)
    {
        var j = tag.Start;
        while (j < tag.End)
        {
            if (s[j] == '{' && j + 1 < tag.End && s[j + 1] is '{' or '%')
            {
                var end = LiquidEnd(s, j);
                yield return s[j..Math.Min(end, tag.End)];
                j = end;
                continue;
            }

            j++;
        }
    }

    public static bool ContainsLiquid(ReadOnlySpan<char> text) => text.Contains("{{", StringComparison.Ordinal) || text.Contains("{%", StringComparison.Ordinal);

    /// <summary>1-based line and column of <paramref name="offset"/>.</summary>
    public static (int Line, int Column) Position(string s, int offset)
    {
        var line = 1;
        var lineStart = 0;
        for (var i = 0; i < offset && i < s.Length; i++)
        {
            if (s[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return (line, offset - lineStart + 1);
    }
}
