using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The report rollups (tracking schema version 2): per recipient, per recipient and link target, and per minute and
/// kind, kept by a trigger on <c>tracking_events</c>. A trigger because it lives in the file: every writer of the
/// table (this store, a bulk load, a herald that does not know the rollups) keeps them, in the insert's transaction,
/// and only for rows actually inserted (<c>ON CONFLICT DO NOTHING</c> skips the trigger of a replayed event).
/// </summary>
public sealed partial class SqliteTrackingStore
{
    /// <summary>The tracking schema version from which the rollups exist and are kept; the report store reads them from it on.</summary>
    internal const int RollupsVersion = 2;

    // Ticks per minute: the timeline's bucket edges are whole minutes, so minute rows add up to any bucket exactly.
    // A click target is keyed as '>' || target, '' without one, so an empty target and none stay apart.
    private const string RollupTables = """
        CREATE TABLE IF NOT EXISTS rollup_recipients (
            campaign             TEXT NOT NULL,
            recipient            TEXT NOT NULL,
            opens                INTEGER NOT NULL,
            opens_unflagged      INTEGER NOT NULL,
            first_open           INTEGER,
            first_unflagged_open INTEGER,
            open_head            INTEGER NOT NULL,
            open_scanner         INTEGER NOT NULL,
            open_mpp             INTEGER NOT NULL,
            clicks               INTEGER NOT NULL,
            first_click          INTEGER,
            click_head           INTEGER NOT NULL,
            click_scanner        INTEGER NOT NULL,
            unsubscribes         INTEGER NOT NULL,
            first_unsubscribe    INTEGER,
            PRIMARY KEY (campaign, recipient)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rollup_clicks (
            campaign   TEXT NOT NULL,
            recipient  TEXT NOT NULL,
            link       INTEGER NOT NULL,
            target     TEXT NOT NULL,
            clicks     INTEGER NOT NULL,
            PRIMARY KEY (campaign, recipient, link, target)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS rollup_minutes (
            campaign   TEXT NOT NULL,
            kind       INTEGER NOT NULL,
            minute     INTEGER NOT NULL,
            events     INTEGER NOT NULL,
            unflagged  INTEGER NOT NULL,
            PRIMARY KEY (campaign, kind, minute)
        ) WITHOUT ROWID;
        CREATE TRIGGER IF NOT EXISTS tracking_events_rollups AFTER INSERT ON tracking_events
        BEGIN
            INSERT INTO rollup_recipients VALUES (
                NEW.campaign, NEW.recipient,
                NEW.kind = 1, NEW.kind = 1 AND NEW.flags = 0,
                CASE WHEN NEW.kind = 1 THEN NEW.at END, CASE WHEN NEW.kind = 1 AND NEW.flags = 0 THEN NEW.at END,
                NEW.kind = 1 AND NEW.flags & 1 <> 0, NEW.kind = 1 AND NEW.flags & 2 <> 0, NEW.kind = 1 AND NEW.flags & 4 <> 0,
                NEW.kind = 2, CASE WHEN NEW.kind = 2 THEN NEW.at END,
                NEW.kind = 2 AND NEW.flags & 1 <> 0, NEW.kind = 2 AND NEW.flags & 2 <> 0,
                NEW.kind = 3, CASE WHEN NEW.kind = 3 THEN NEW.at END)
            ON CONFLICT (campaign, recipient) DO UPDATE SET
                opens = opens + excluded.opens,
                opens_unflagged = opens_unflagged + excluded.opens_unflagged,
                first_open = COALESCE(MIN(first_open, excluded.first_open), first_open, excluded.first_open),
                first_unflagged_open = COALESCE(MIN(first_unflagged_open, excluded.first_unflagged_open), first_unflagged_open, excluded.first_unflagged_open),
                open_head = open_head + excluded.open_head,
                open_scanner = open_scanner + excluded.open_scanner,
                open_mpp = open_mpp + excluded.open_mpp,
                clicks = clicks + excluded.clicks,
                first_click = COALESCE(MIN(first_click, excluded.first_click), first_click, excluded.first_click),
                click_head = click_head + excluded.click_head,
                click_scanner = click_scanner + excluded.click_scanner,
                unsubscribes = unsubscribes + excluded.unsubscribes,
                first_unsubscribe = COALESCE(MIN(first_unsubscribe, excluded.first_unsubscribe), first_unsubscribe, excluded.first_unsubscribe);
            INSERT INTO rollup_clicks SELECT NEW.campaign, NEW.recipient, NEW.link, IFNULL('>' || NEW.target, ''), 1 WHERE NEW.kind = 2
            ON CONFLICT (campaign, recipient, link, target) DO UPDATE SET clicks = clicks + 1;
            INSERT INTO rollup_minutes VALUES (NEW.campaign, NEW.kind, NEW.at - NEW.at % 600000000, 1, NEW.flags = 0)
            ON CONFLICT (campaign, kind, minute) DO UPDATE SET events = events + 1, unflagged = unflagged + excluded.unflagged;
        END;
        """;

    /// <summary>The rollups recomputed from the events: the upgrade of a store written before them, and a repair.</summary>
    private const string RollupBackfill = """
        DELETE FROM rollup_recipients;
        DELETE FROM rollup_clicks;
        DELETE FROM rollup_minutes;
        INSERT INTO rollup_recipients
            SELECT campaign, recipient,
                   SUM(kind = 1), SUM(kind = 1 AND flags = 0),
                   MIN(CASE WHEN kind = 1 THEN at END), MIN(CASE WHEN kind = 1 AND flags = 0 THEN at END),
                   SUM(kind = 1 AND flags & 1 <> 0), SUM(kind = 1 AND flags & 2 <> 0), SUM(kind = 1 AND flags & 4 <> 0),
                   SUM(kind = 2), MIN(CASE WHEN kind = 2 THEN at END), SUM(kind = 2 AND flags & 1 <> 0), SUM(kind = 2 AND flags & 2 <> 0),
                   SUM(kind = 3), MIN(CASE WHEN kind = 3 THEN at END)
            FROM tracking_events GROUP BY campaign, recipient;
        INSERT INTO rollup_clicks
            SELECT campaign, recipient, link, IFNULL('>' || target, ''), COUNT(*) FROM tracking_events WHERE kind = 2
            GROUP BY campaign, recipient, link, IFNULL('>' || target, '');
        INSERT INTO rollup_minutes
            SELECT campaign, kind, at - at % 600000000, COUNT(*), SUM(flags = 0) FROM tracking_events
            GROUP BY campaign, kind, at - at % 600000000;
        """;

    /// <summary>
    /// Recomputes the report rollups from the events, in one transaction (writers wait): for a store whose events were
    /// loaded around the trigger, or to check the rollups against the events.
    /// </summary>
    public Task RebuildRollupsAsync(CancellationToken cancellationToken) => GuardAsync(async () =>
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, RollupTables + RollupBackfill, cancellationToken, transaction).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    });
}
