namespace Herald.Store;

/// <summary>How the report's reads are cut into ranges: one definition, so every backend cuts them alike.</summary>
public static class ReportRanges
{
    /// <summary>Throws unless <paramref name="part"/> is one of <paramref name="parts"/> (0-based).</summary>
    public static void CheckPart(int part, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(part);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(parts, part);
    }

    /// <summary>Part <paramref name="part"/> of <paramref name="parts"/> of the plan row ids <paramref name="minId"/>..<paramref name="maxId"/>, as <c>From &lt;= id &lt; To</c>.</summary>
    public static (long From, long To) PlanPart(long minId, long maxId, int part, int parts)
    {
        CheckPart(part, parts);
        var span = maxId + 1 - minId;
        return (minId + (span * part / parts), minId + (span * (part + 1) / parts));
    }

    /// <summary>
    /// The recipient ranges between the <paramref name="excluded"/> ids, in <see cref="RecipientOrder"/>, as
    /// <c>After &lt; recipient &lt; Before</c> (<c>Before</c> null for the last range): a store reads each as one index
    /// range and never steps over an excluded recipient's rows. The first <c>After</c> is the empty text, which sorts
    /// before every id (ids are never empty).
    /// </summary>
    public static IReadOnlyList<(string After, string? Before)> Gaps(IEnumerable<string> excluded)
    {
        ArgumentNullException.ThrowIfNull(excluded);
        var bounds = excluded.Distinct(StringComparer.Ordinal).Order(RecipientOrder.Instance).ToList();
        var gaps = new List<(string, string?)>(bounds.Count + 1);
        var after = string.Empty;
        foreach (var bound in bounds)
        {
            gaps.Add((after, bound));
            after = bound;
        }

        gaps.Add((after, null));
        return gaps;
    }
}
