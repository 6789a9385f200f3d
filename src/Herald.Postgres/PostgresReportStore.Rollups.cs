using Npgsql;
using NpgsqlTypes;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

/// <summary>
/// The full-range report read from the rollups the tracking store keeps as events are written (schema version 6):
/// summary rows instead of every event. A date window, or a store of an older schema (opened read-only, never
/// migrated), scans the events.
/// </summary>
public sealed partial class PostgresReportStore
{
    // Set once seen: a schema version never goes down.
    private volatile bool _rollupsCurrent;

    /// <summary>True when this store keeps the rollups.</summary>
    private async Task<bool> RollupsCurrentAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (!_rollupsCurrent)
        {
            _rollupsCurrent = await PostgresSchema.GetVersionAsync(connection, null, cancellationToken).ConfigureAwait(false) >= PostgresSchema.RollupsVersion;
        }

        return _rollupsCurrent;
    }

    private volatile bool _deliveryTimesKept;

    /// <summary>True when <paramref name="window"/> is the whole campaign and the rollup recipients carry their delivery times.</summary>
    private async Task<bool> UsesDeliveryTimesAsync(NpgsqlConnection connection, EventWindow window, CancellationToken cancellationToken)
    {
        if (!ReportRollups.Covers(window))
        {
            return false;
        }

        if (!_deliveryTimesKept)
        {
            _deliveryTimesKept = await PostgresSchema.GetVersionAsync(connection, null, cancellationToken).ConfigureAwait(false) >= PostgresSchema.DeliveryTimesVersion;
        }

        return _deliveryTimesKept;
    }

    /// <summary>True when <paramref name="window"/> is the whole campaign and this store keeps the rollups.</summary>
    private async Task<bool> UsesRollupsAsync(NpgsqlConnection connection, EventWindow window, CancellationToken cancellationToken) =>
        ReportRollups.Covers(window) && await RollupsCurrentAsync(connection, cancellationToken).ConfigureAwait(false);

    // $1 campaign in each.
    private const string RollupOpenSummaries = """
        SELECT recipient, opens, opens_unflagged, first_open, first_unflagged_open, open_head, open_scanner, open_mpp
        FROM rollup_recipients WHERE campaign = $1 AND opens > 0 ORDER BY recipient
        """;

    /// <summary>$2 the most clicks examined one by one.</summary>
    private const string RollupHeavyClickers = """
        SELECT recipient, clicks, first_click, click_head, click_scanner
        FROM rollup_recipients WHERE campaign = $1 AND clicks > $2 ORDER BY recipient
        """;

    /// <summary>
    /// The delivery times kept in the rollup (a PRIMARY KEY range in recipient order), and for a row whose time is not
    /// there yet (its first event came before the ledger's mark, or a herald before version 7 wrote it) the ledger's.
    /// </summary>
    private const string RollupDeliveries = """
        SELECT recipient, at FROM (
            SELECT recipient, coalesce(delivered_at,
                (SELECT l.updated_at FROM recipients l
                 WHERE l.campaign = r.campaign AND l.recipient_id = r.recipient COLLATE "default" AND l.state = 2 ORDER BY l.id LIMIT 1)) AS at
            FROM rollup_recipients r WHERE campaign = $1) kept
        WHERE at IS NOT NULL ORDER BY recipient
        """;

    private const string RollupUnsubscribes = """
        SELECT recipient, first_unsubscribe, unsubscribes
        FROM rollup_recipients WHERE campaign = $1 AND unsubscribes > 0 ORDER BY recipient
        """;

    /// <summary>$2 the recipients, $3 the links whose target is kept (unless <paramref name="everyTarget"/>).</summary>
    private static string RollupClicksByLink(bool everyTarget) => $"""
        SELECT recipient, link, {(everyTarget ? ReportRollups.TargetOfKey : $"CASE WHEN link = ANY($3) THEN {ReportRollups.TargetOfKey} END")} AS t, sum(clicks)::bigint
        FROM rollup_clicks WHERE campaign = $1 AND recipient = ANY($2)
        GROUP BY recipient, link, t
        """;

    /// <summary>$2 the kind, $3 the edges in minutes since the epoch: width_bucket numbers [edges[i-1], edges[i]) as i.</summary>
    private const string RollupBuckets = """
        SELECT width_bucket(minute, $3), sum(events)::bigint, sum(unflagged)::bigint FROM rollup_minutes
        WHERE campaign = $1 AND kind = $2 AND minute >= ($3)[1] AND minute < ($3)[array_length($3, 1)]
        GROUP BY 1
        """;

    /// <summary>The buckets of <see cref="CountByBucketAsync"/> from the minute rollup (edges on whole minutes), in its row shape.</summary>
    private static NpgsqlCommand RollupBucketsCommand(NpgsqlConnection connection, EventWindow window, TrackingEventKind kind, IReadOnlyList<DateTimeOffset> edges)
    {
        var command = new NpgsqlCommand(RollupBuckets, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = window.CampaignId });
        command.Parameters.Add(new NpgsqlParameter { Value = (short)kind });
        command.Parameters.Add(Array(edges.Select(PostgresRollups.Minute).ToArray(), NpgsqlDbType.Bigint));
        return command;
    }
}
