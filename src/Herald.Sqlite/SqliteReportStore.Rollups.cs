using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The full-range report read from the rollups that the tracking tables keep as events are written
/// (<see cref="SqliteTrackingStore"/>, tracking schema version 2): summary rows instead of every event. A date window,
/// or a store whose tracking tables are older (opened read-only, never migrated), scans the events.
/// </summary>
public sealed partial class SqliteReportStore
{
    // Set once seen: a schema version never goes down.
    private volatile bool _rollupsCurrent;

    /// <summary>True when <paramref name="window"/> is the whole campaign and this store keeps the rollups.</summary>
    private async Task<bool> UsesRollupsAsync(SqliteConnection connection, EventWindow window, CancellationToken cancellationToken)
    {
        if (!ReportRollups.Covers(window))
        {
            return false;
        }

        if (!_rollupsCurrent && await TableExistsAsync(connection, "tracking_schema", cancellationToken).ConfigureAwait(false))
        {
            await using var command = Command(connection, "SELECT MAX(version) FROM tracking_schema;", null);
            _rollupsCurrent = await ExecuteScalarAsync(command, cancellationToken).ConfigureAwait(false) is long version && version >= SqliteTrackingStore.RollupsVersion;
        }

        return _rollupsCurrent;
    }

    private volatile bool _deliveryTimesKept;

    /// <summary>True when <paramref name="window"/> is the whole campaign and the tracking tables keep the delivery times (version 4).</summary>
    private async Task<bool> UsesDeliveryTimesAsync(SqliteConnection connection, EventWindow window, CancellationToken cancellationToken)
    {
        if (!ReportRollups.Covers(window))
        {
            return false;
        }

        if (!_deliveryTimesKept && await TableExistsAsync(connection, "tracking_schema", cancellationToken).ConfigureAwait(false))
        {
            await using var command = Command(connection, "SELECT MAX(version) FROM tracking_schema;", null);
            _deliveryTimesKept = await ExecuteScalarAsync(command, cancellationToken).ConfigureAwait(false) is long version && version >= SqliteTrackingStore.DeliveryTimesVersion;
        }

        return _deliveryTimesKept;
    }

    /// <summary>$c the campaign (the window's other parameters unused).</summary>
    private const string RollupDeliveries = """
        SELECT recipient, at FROM (
            SELECT r.recipient, COALESCE(d.delivered_at, (SELECT l.updated_at FROM recipients l
                WHERE l.campaign = r.campaign AND l.recipient_id = r.recipient AND +l.state = 2 ORDER BY l.id LIMIT 1)) AS at
            FROM rollup_recipients r LEFT JOIN rollup_deliveries d ON d.campaign = r.campaign AND d.recipient = r.recipient
            WHERE r.campaign = $c)
        WHERE at IS NOT NULL ORDER BY recipient;
        """;

    private const string RollupOpenSummaries = """
        SELECT recipient, opens, opens_unflagged, first_open, first_unflagged_open, open_head, open_scanner, open_mpp
        FROM rollup_recipients WHERE campaign = $c AND opens > 0 ORDER BY recipient;
        """;

    private const string RollupHeavyClickers = """
        SELECT recipient, clicks, first_click, click_head, click_scanner
        FROM rollup_recipients WHERE campaign = $c AND clicks > $max ORDER BY recipient;
        """;

    private const string RollupUnsubscribes = """
        SELECT recipient, first_unsubscribe, unsubscribes
        FROM rollup_recipients WHERE campaign = $c AND unsubscribes > 0 ORDER BY recipient;
        """;

    private static string RollupClicksByLink(bool everyTarget) => $"""
        SELECT recipient, link, t, SUM(clicks) FROM (
            SELECT recipient, link, {(everyTarget ? ReportRollups.TargetOfKey : $"CASE WHEN link IN (SELECT value FROM json_each($links)) THEN {ReportRollups.TargetOfKey} END")} AS t, clicks
            FROM rollup_clicks WHERE campaign = $c AND recipient IN (SELECT value FROM json_each($recipients)))
        GROUP BY recipient, link, t;
        """;

    private const string RollupBuckets = """
        SELECT CAST(b.key AS INTEGER),
               (SELECT IFNULL(SUM(events), 0) * 4294967296 + IFNULL(SUM(unflagged), 0) FROM rollup_minutes
                WHERE campaign = $c AND kind = $kind AND minute >= b.value ->> 0 AND minute < b.value ->> 1)
        FROM json_each($bounds) AS b;
        """;
}
