using System.Text;

namespace Herald.Rendering;

/// <summary>Tidies a text part derived from HTML: lines trimmed, inner runs of spaces collapsed, at most one blank line.</summary>
internal static class PlainText
{
    public static void Tidy(StringBuilder text)
    {
        // One pass, in place: the write index never overtakes the read index.
        var write = 0;
        var blankLines = 0;
        var lineHasText = false;
        var pendingSpace = false;
        var length = text.Length;
        var atStart = true;
        for (var read = 0; read < length; read++)
        {
            var c = text[read];
            if (c == '\r')
            {
                continue;
            }

            if (c == '\n')
            {
                if (lineHasText)
                {
                    blankLines = 0;
                }
                else
                {
                    blankLines++;
                }

                if (!atStart && blankLines <= 1)
                {
                    text[write++] = '\n';
                }

                lineHasText = false;
                pendingSpace = false;
                continue;
            }

            if (c is ' ' or '\t' or '\u00A0')
            {
                pendingSpace = lineHasText;
                continue;
            }

            if (pendingSpace)
            {
                text[write++] = ' ';
                pendingSpace = false;
            }

            text[write++] = c;
            lineHasText = true;
            atStart = false;
        }

        text.Length = write;
        while (text.Length > 0 && text[^1] == '\n')
        {
            text.Length--;
        }

        text.Append('\n');
    }
}
