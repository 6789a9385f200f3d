using System.Globalization;

namespace Herald.Campaigns;

/// <summary>Durations as written in campaign files: a whole number and a unit, <c>100ms</c>, <c>30s</c>, <c>5m</c>, <c>2h</c>, <c>7d</c>.</summary>
public static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        var digits = 0;
        while (digits < span.Length && char.IsAsciiDigit(span[digits]))
        {
            digits++;
        }

        if (digits == 0 || !long.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var unit = span[digits..];
        double? milliseconds = unit switch
        {
            "ms" => number,
            "s" => number * 1000d,
            "m" => number * 60_000d,
            "h" => number * 3_600_000d,
            "d" => number * 86_400_000d,
            _ => null,
        };
        if (milliseconds is null || milliseconds > TimeSpan.MaxValue.TotalMilliseconds / 2)
        {
            return false;
        }

        value = TimeSpan.FromMilliseconds(milliseconds.Value);
        return true;
    }

    /// <summary>The shortest exact form: <c>7d</c>, <c>2h</c>, <c>90s</c>, <c>250ms</c>.</summary>
    public static string Format(TimeSpan value)
    {
        var ms = (long)value.TotalMilliseconds;
        if (ms % 86_400_000 == 0 && ms != 0)
        {
            return FormattableString.Invariant($"{ms / 86_400_000}d");
        }

        if (ms % 3_600_000 == 0 && ms != 0)
        {
            return FormattableString.Invariant($"{ms / 3_600_000}h");
        }

        if (ms % 60_000 == 0 && ms != 0)
        {
            return FormattableString.Invariant($"{ms / 60_000}m");
        }

        return ms % 1000 == 0 ? FormattableString.Invariant($"{ms / 1000}s") : FormattableString.Invariant($"{ms}ms");
    }
}
