using System.Globalization;

namespace Herald.Delivery;

/// <summary>
/// Which failed recipients <c>herald retry --failed --code LIST</c> sends again: a comma-separated list of patterns,
/// any of which may match. A pattern is a basic reply code of three characters (<c>530</c>, <c>55x</c>, <c>5xx</c>;
/// <c>x</c> matches any digit), matched against the recorded reply code, or an RFC 3463 enhanced status code of three
/// dot-separated parts (<c>5.7.0</c>, <c>5.7.x</c>, <c>5.x.x</c>), matched against the enhanced code in the recorded
/// reply text. Example: <c>--code 530,535,5.7.x</c>.
/// </summary>
public sealed class ReplyCodeFilter
{
    private readonly List<string> _basic = [];
    private readonly List<string[]> _enhanced = [];

    private ReplyCodeFilter(string text) => Text = text;

    /// <summary>The list as given (normalized: lower-case, no spaces).</summary>
    public string Text { get; }

    /// <summary>Parses <paramref name="list"/>; false with a message naming the first bad pattern.</summary>
    public static bool TryParse(string list, out ReplyCodeFilter filter, out string? error)
    {
        ArgumentNullException.ThrowIfNull(list);
        var patterns = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.ToLowerInvariant()).ToList();
        filter = new ReplyCodeFilter(string.Join(",", patterns));
        error = null;
        if (patterns.Count == 0)
        {
            error = "--code: give at least one code, for example --code 530,5.7.0,55x";
            return false;
        }

        foreach (var pattern in patterns)
        {
            if (pattern.Length == 3 && pattern[0] is '4' or '5' or 'x' && pattern.All(c => char.IsAsciiDigit(c) || c == 'x'))
            {
                filter._basic.Add(pattern);
                continue;
            }

            var parts = pattern.Split('.');
            if (parts.Length == 3 && parts[0] is "4" or "5" or "x"
                && parts.All(p => p == "x" || (p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit))))
            {
                filter._enhanced.Add(parts);
                continue;
            }

            error = $"--code: '{pattern}' is neither a reply code (530, 55x, 5xx) nor an enhanced status code (5.7.0, 5.7.x)";
            return false;
        }

        return true;
    }

    /// <summary>True when the recorded reply (code and text) matches any pattern.</summary>
    public bool Matches(int? code, string? text)
    {
        if (code is { } basic)
        {
            var digits = basic.ToString("000", CultureInfo.InvariantCulture);
            if (_basic.Any(p => Like(p, digits)))
            {
                return true;
            }
        }

        if (_enhanced.Count > 0 && EnhancedStatusCode.Find(text, code) is { } enhanced)
        {
            var found = new[] { enhanced.Class, enhanced.Subject, enhanced.Detail };
            return _enhanced.Any(p => p.Select((part, i) => part == "x" || int.Parse(part, CultureInfo.InvariantCulture) == found[i]).All(m => m));
        }

        return false;
    }

    private static bool Like(string pattern, string digits) =>
        digits.Length == 3 && pattern.Zip(digits).All(pair => pair.First == 'x' || pair.First == pair.Second);
}
