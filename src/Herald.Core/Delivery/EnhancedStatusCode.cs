using System.Globalization;

namespace Herald.Delivery;

/// <summary>
/// An RFC 3463 enhanced status code, <c>class.subject.detail</c> (<c>5.7.1</c>), as relays put it at the start of a
/// reply's text (RFC 2034). It says what a reply is about far better than the three-digit code: <c>5.1.1</c> is the
/// recipient's mailbox, <c>5.7.x</c> security or policy, <c>5.3.x</c> the mail system.
/// </summary>
public readonly record struct EnhancedStatusCode(int Class, int Subject, int Detail)
{
    /// <summary>
    /// The enhanced code at the start of <paramref name="text"/> (after the basic code, when the text repeats it), or
    /// anywhere after a prefix such as <c>gave up after 3 attempts: 450 4.2.1 …</c>. Its class must agree with
    /// <paramref name="code"/> when both are known. Null when there is none.
    /// </summary>
    public static EnhancedStatusCode? Find(string? text, int? code = null)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        var span = text.AsSpan();
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] is not ('2' or '4' or '5') || (i > 0 && !IsBoundary(span[i - 1])))
            {
                continue;
            }

            if (TryParseAt(span[i..], out var found, out var length)
                && (i + length == span.Length || IsBoundary(span[i + length]))
                && (code is null || found.Class == code / 100))
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Parses exactly <c>c.s.d</c>.</summary>
    public static bool TryParse(string? text, out EnhancedStatusCode code)
    {
        code = default;
        return text is not null && TryParseAt(text, out code, out var length) && length == text.Length;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Class}.{Subject}.{Detail}");

    private static bool IsBoundary(char c) => c is ' ' or '\t' or '(' or '[' or ':' or ',' or ';' or '-' or '#' or '<' or '>' or ')' or ']';

    private static bool TryParseAt(ReadOnlySpan<char> span, out EnhancedStatusCode code, out int length)
    {
        code = default;
        length = 0;
        if (span.Length < 5 || span[0] is not ('2' or '4' or '5') || span[1] != '.')
        {
            return false;
        }

        var at = 2;
        if (!Number(span, ref at, 3, out var subject) || at >= span.Length || span[at] != '.')
        {
            return false;
        }

        at++;
        if (!Number(span, ref at, 3, out var detail))
        {
            return false;
        }

        code = new EnhancedStatusCode(span[0] - '0', subject, detail);
        length = at;
        return true;
    }

    private static bool Number(ReadOnlySpan<char> span, ref int at, int maxDigits, out int value)
    {
        value = 0;
        var start = at;
        while (at < span.Length && at - start < maxDigits && char.IsAsciiDigit(span[at]))
        {
            value = (value * 10) + (span[at] - '0');
            at++;
        }

        return at > start && (at == span.Length || !char.IsAsciiDigit(span[at]));
    }
}
