using System.Globalization;

namespace Herald.Prepare;

/// <summary>How <see cref="Preparer"/> runs; the defaults suit a 2-core machine with 1 GB to spare.</summary>
public sealed class PrepareOptions
{
    public const long DefaultMemoryBudget = 512L * 1024 * 1024;

    /// <summary>
    /// Bytes the join buffers may hold before they spill sorted runs to disk. The audience's dedupe and key
    /// indexes (about 150 bytes per recipient) come on top of it.
    /// </summary>
    public long MemoryBudget { get; init; } = DefaultMemoryBudget;

    /// <summary>Where spill files go (a private sub-folder is created and removed); the system temp folder when null.</summary>
    public string? TempDirectory { get; init; }

    /// <summary>Rows handled together by each operator, and rows per plan-writer call.</summary>
    public int BatchSize { get; init; } = 4096;

    /// <summary>Parses <c>512MB</c>, <c>1GB</c>, <c>64KB</c>, <c>1048576</c> (binary units, case-insensitive).</summary>
    public static bool TryParseSize(string? text, out long bytes)
    {
        bytes = 0;
        var s = text?.Trim().ToUpperInvariant();
        if (string.IsNullOrEmpty(s))
        {
            return false;
        }

        long multiplier = 1;
        foreach (var (suffix, factor) in new[] { ("KB", 1L << 10), ("MB", 1L << 20), ("GB", 1L << 30), ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30), ("B", 1L) })
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal))
            {
                multiplier = factor;
                s = s[..^suffix.Length].TrimEnd();
                break;
            }
        }

        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            return false;
        }

        var result = value * multiplier;
        if (result >= long.MaxValue || result < 1)
        {
            return false;
        }

        bytes = (long)result;
        return true;
    }
}
