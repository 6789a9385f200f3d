namespace Herald.Store;

/// <summary>
/// What a backend's report rollups may answer exactly. Rollups are kept per recipient, per recipient and click target,
/// and per minute and kind as events are written; a report over the whole campaign reads them, a date window scans the
/// events (its bounds cut through recipients' histories).
/// </summary>
public static class ReportRollups
{
    /// <summary>
    /// SQL (SQLite and PostgreSQL alike) turning a rollup click target key back into the event's target. Keys are
    /// <c>'&gt;' || target</c>, and <c>''</c> for none, so an empty target and no target stay apart.
    /// </summary>
    public const string TargetOfKey = "CASE WHEN target = '' THEN NULL ELSE substr(target, 2) END";

    /// <summary>True when the window is the whole campaign (no date bounds).</summary>
    public static bool Covers(EventWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return window.From is null && window.To is null;
    }

    /// <summary>True when every bucket edge is on a whole minute (UTC): then per-minute rows add up to each bucket exactly.</summary>
    public static bool OnWholeMinutes(IReadOnlyList<DateTimeOffset> edges)
    {
        ArgumentNullException.ThrowIfNull(edges);
        return edges.All(e => e.UtcTicks % TimeSpan.TicksPerMinute == 0);
    }
}
