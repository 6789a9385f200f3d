using System.Globalization;
using Herald.Campaigns;

namespace Herald.Tracking;

/// <summary>Times as report options take them: ISO 8601 (<c>2026-04-01T10:00:00Z</c>, a date means its UTC midnight), or a duration back from now (<c>90m</c>, <c>24h</c>, <c>7d</c>).</summary>
public static class ReportTimes
{
    public static bool TryParse(string? text, DateTimeOffset now, out DateTimeOffset value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var trimmed = text.Trim();
        if (trimmed.EndsWith('d') && long.TryParse(trimmed.AsSpan(0, trimmed.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var days)
            && days <= 36_500)
        {
            value = now - TimeSpan.FromDays(days);
            return true;
        }

        if (Durations.TryParse(trimmed, out var ago))
        {
            value = now - ago;
            return true;
        }

        return DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);
    }
}
