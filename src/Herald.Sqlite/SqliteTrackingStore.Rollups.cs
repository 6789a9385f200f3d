using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The report rollups (tracking schema version 2 on): per recipient, per recipient and link target, and per minute and
/// kind, written in the insert's transaction and only for rows actually inserted (a replayed event adds nothing).
/// </summary>
/// <remarks>
/// This store writes them itself, one upsert per recipient, per target and per minute of a batch
/// (<see cref="WriteRollups"/>; since version 3). Every other writer of <c>tracking_events</c> (a bulk load, a herald of
/// version 2 still running beside an upgraded one) goes through the trigger, which keeps them row by row: it fires for
/// rows whose <c>rolled</c> column is NULL, and this store's rows carry 1. Per row, the trigger's three upserts cost
/// twice the insert itself (appends at 8,000/s instead of 24,000/s on the 2-core machine); a batch of the tracking
/// server's usually holds few recipients and minutes.
/// </remarks>
public sealed partial class SqliteTrackingStore
{
    /// <summary>The tracking schema version from which the rollups exist and are kept; the report store reads them from it on.</summary>
    internal const int RollupsVersion = 2;

    /// <summary>The version from which this store writes the rollups of its own rows (the trigger only those of other writers).</summary>
    internal const int GroupedRollupsVersion = 3;

    /// <summary>
    /// The version from which the delivery time of each rollup recipient is kept (<c>rollup_deliveries</c>), so a
    /// full-range report reads those beside the events instead of every sent row of the ledger.
    /// </summary>
    internal const int DeliveryTimesVersion = 4;

    /// <summary>
    /// Version 4: each rollup recipient's delivery time, copied from the ledger's first <c>sent</c> row (plan order) by
    /// this store's appends once the ledger has it. A table of its own, so that every older writer's positional inserts
    /// into <c>rollup_recipients</c> stay valid; a recipient without a row here (an event before the mark, a message in
    /// doubt, an older writer) is looked up in the ledger by the report.
    /// </summary>
    private const string DeliveryTimesTable = """
        CREATE TABLE IF NOT EXISTS rollup_deliveries (
            campaign     TEXT NOT NULL,
            recipient    TEXT NOT NULL,
            delivered_at INTEGER NOT NULL,
            PRIMARY KEY (campaign, recipient)
        ) WITHOUT ROWID;
        """;

    /// <summary>The delivery times of every rollup recipient from the ledger (the first sent row kept: plan order, OR IGNORE).</summary>
    private const string DeliveryTimesBackfill = """
        DELETE FROM rollup_deliveries;
        INSERT OR IGNORE INTO rollup_deliveries
            SELECT l.campaign, l.recipient_id, l.updated_at FROM recipients l
            WHERE l.state = 2 AND EXISTS (SELECT 1 FROM rollup_recipients r WHERE r.campaign = l.campaign AND r.recipient = l.recipient_id)
            ORDER BY l.id;
        """;

    /// <summary>
    /// One recipient of a batch: its delivery time from the ledger (one probe of its recipient index), unless kept
    /// already. The unary plus keeps the planner off the work index (campaign, state, id), which serves the ORDER BY
    /// by walking every sent row of the campaign: a probe per row of the ledger (a 100,000-recipient append ran for
    /// minutes).
    /// </summary>
    private const string KeepDeliveryTime = """
        INSERT OR IGNORE INTO rollup_deliveries
            SELECT ?1, ?2, updated_at FROM recipients WHERE campaign = ?1 AND recipient_id = ?2 AND +state = 2 ORDER BY id LIMIT 1;
        """;

    /// <summary>How a recipient's new counts join its row: sums, and the earliest of each first time (NULL: none yet).</summary>
    private const string RecipientMerge = """
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
            first_unsubscribe = COALESCE(MIN(first_unsubscribe, excluded.first_unsubscribe), first_unsubscribe, excluded.first_unsubscribe)
        """;

    // Ticks per minute: the timeline's bucket edges are whole minutes, so minute rows add up to any bucket exactly.
    // A click target is keyed as '>' || target, '' without one, so an empty target and none stay apart.
    private const string RollupTables = $"""
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
        CREATE TRIGGER IF NOT EXISTS tracking_events_rollups AFTER INSERT ON tracking_events WHEN NEW.rolled IS NULL
        BEGIN
            INSERT INTO rollup_recipients VALUES (
                NEW.campaign, NEW.recipient,
                NEW.kind = 1, NEW.kind = 1 AND NEW.flags = 0,
                CASE WHEN NEW.kind = 1 THEN NEW.at END, CASE WHEN NEW.kind = 1 AND NEW.flags = 0 THEN NEW.at END,
                NEW.kind = 1 AND NEW.flags & 1 <> 0, NEW.kind = 1 AND NEW.flags & 2 <> 0, NEW.kind = 1 AND NEW.flags & 4 <> 0,
                NEW.kind = 2, CASE WHEN NEW.kind = 2 THEN NEW.at END,
                NEW.kind = 2 AND NEW.flags & 1 <> 0, NEW.kind = 2 AND NEW.flags & 2 <> 0,
                NEW.kind = 3, CASE WHEN NEW.kind = 3 THEN NEW.at END)
            {RecipientMerge};
            INSERT INTO rollup_clicks SELECT NEW.campaign, NEW.recipient, NEW.link, IFNULL('>' || NEW.target, ''), 1 WHERE NEW.kind = 2
            ON CONFLICT (campaign, recipient, link, target) DO UPDATE SET clicks = clicks + 1;
            INSERT INTO rollup_minutes VALUES (NEW.campaign, NEW.kind, NEW.at - NEW.at % 600000000, 1, NEW.flags = 0)
            ON CONFLICT (campaign, kind, minute) DO UPDATE SET events = events + 1, unflagged = unflagged + excluded.unflagged;
        END;
        """;

    /// <summary>Version 3: the <c>rolled</c> column, and the trigger for the rows without it (added before <see cref="RollupTables"/>).</summary>
    private const string AddRolled = "ALTER TABLE tracking_events ADD COLUMN rolled INTEGER;";

    private const string GroupedRollups = "DROP TRIGGER IF EXISTS tracking_events_rollups;";

    private const string UpsertRecipient = $"""
        INSERT INTO rollup_recipients VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
        {RecipientMerge};
        """;

    private const string UpsertClicks = """
        INSERT INTO rollup_clicks VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (campaign, recipient, link, target) DO UPDATE SET clicks = clicks + excluded.clicks;
        """;

    private const string UpsertMinute = """
        INSERT INTO rollup_minutes VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT (campaign, kind, minute) DO UPDATE SET events = events + excluded.events, unflagged = unflagged + excluded.unflagged;
        """;

    private const long TicksPerMinute = 600_000_000;

    /// <summary>The rollups of <paramref name="added"/> (the events this append inserted), grouped, in the open transaction.</summary>
    private static void WriteRollups(SqliteConnection connection, List<TrackingEvent> added, bool deliveryTimes)
    {
        if (added.Count == 0)
        {
            return;
        }

        var recipients = new Dictionary<(string Campaign, string Recipient), RecipientRollup>();
        var clicks = new Dictionary<(string Campaign, string Recipient, int Link, string Target), long>();
        var minutes = new Dictionary<(string Campaign, int Kind, long Minute), (long Events, long Unflagged)>();
        foreach (var e in added)
        {
            var at = e.At.UtcTicks;
            var flags = (int)e.Flags;
            var unflagged = flags == 0 ? 1 : 0;
            ref var minute = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(minutes, (e.CampaignId, (int)e.Kind, at - (at % TicksPerMinute)), out _);
            minute = (minute.Events + 1, minute.Unflagged + unflagged);
            if (e.Kind is not (TrackingEventKind.Open or TrackingEventKind.Click or TrackingEventKind.Unsubscribe))
            {
                continue;
            }

            ref var r = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(recipients, (e.CampaignId, e.RecipientId), out _);
            r ??= new RecipientRollup();

            switch (e.Kind)
            {
                case TrackingEventKind.Open:
                    r.Opens++;
                    r.OpensUnflagged += unflagged;
                    r.FirstOpen = Min(r.FirstOpen, at);
                    r.FirstUnflaggedOpen = unflagged == 1 ? Min(r.FirstUnflaggedOpen, at) : r.FirstUnflaggedOpen;
                    r.OpenHead += (flags & 1) != 0 ? 1 : 0;
                    r.OpenScanner += (flags & 2) != 0 ? 1 : 0;
                    r.OpenMpp += (flags & 4) != 0 ? 1 : 0;
                    break;
                case TrackingEventKind.Click:
                    r.Clicks++;
                    r.FirstClick = Min(r.FirstClick, at);
                    r.ClickHead += (flags & 1) != 0 ? 1 : 0;
                    r.ClickScanner += (flags & 2) != 0 ? 1 : 0;
                    var target = e.Target is null ? string.Empty : ">" + e.Target;
                    ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(clicks, (e.CampaignId, e.RecipientId, e.LinkNumber, target), out _);
                    count++;
                    break;
                default:
                    r.Unsubscribes++;
                    r.FirstUnsubscribe = Min(r.FirstUnsubscribe, at);
                    break;
            }
        }

        var db = connection.Handle!;
        using (var upsert = RawStatement.Prepare(db, UpsertRecipient))
        {
            foreach (var ((campaign, recipient), r) in recipients)
            {
                upsert.Text(1, campaign).Text(2, recipient).Int64(3, r.Opens).Int64(4, r.OpensUnflagged).Int64(5, r.FirstOpen).Int64(6, r.FirstUnflaggedOpen)
                    .Int64(7, r.OpenHead).Int64(8, r.OpenScanner).Int64(9, r.OpenMpp).Int64(10, r.Clicks).Int64(11, r.FirstClick)
                    .Int64(12, r.ClickHead).Int64(13, r.ClickScanner).Int64(14, r.Unsubscribes).Int64(15, r.FirstUnsubscribe)
                    .Execute();
            }
        }

        if (deliveryTimes)
        {
            using var keep = RawStatement.Prepare(db, KeepDeliveryTime);
            foreach (var (campaign, recipient) in recipients.Keys)
            {
                keep.Text(1, campaign).Text(2, recipient).Execute();
            }
        }

        if (clicks.Count > 0)
        {
            using var upsert = RawStatement.Prepare(db, UpsertClicks);
            foreach (var ((campaign, recipient, link, target), count) in clicks)
            {
                upsert.Text(1, campaign).Text(2, recipient).Int64(3, link).Text(4, target).Int64(5, count).Execute();
            }
        }

        using (var upsert = RawStatement.Prepare(db, UpsertMinute))
        {
            foreach (var ((campaign, kind, minute), counts) in minutes)
            {
                upsert.Text(1, campaign).Int64(2, kind).Int64(3, minute).Int64(4, counts.Events).Int64(5, counts.Unflagged).Execute();
            }
        }

        static long? Min(long? current, long at) => current is { } c && c <= at ? c : at;
    }

    /// <summary>True when the ledger's table is in this file (a tracking-only store has none: no delivery times to keep).</summary>
    private static Task<bool> LedgerExistsAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken) =>
        TablesExistAsync(connection, transaction, "'recipients'", 1, cancellationToken);

    /// <summary>True when this file has the ledger and the table of kept delivery times (a store not yet upgraded has not).</summary>
    private static Task<bool> KeepsDeliveryTimesAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken) =>
        TablesExistAsync(connection, transaction, "'recipients', 'rollup_deliveries'", 2, cancellationToken);

    private static async Task<bool> TablesExistAsync(SqliteConnection connection, SqliteTransaction transaction, string names, int count, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ({names});";
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long found && found == count;
    }

    /// <summary>One recipient's part of a batch; a first time is null when the batch has no such event.</summary>
    private sealed class RecipientRollup
    {
        public long Opens;
        public long OpensUnflagged;
        public long? FirstOpen;
        public long? FirstUnflaggedOpen;
        public long OpenHead;
        public long OpenScanner;
        public long OpenMpp;
        public long Clicks;
        public long? FirstClick;
        public long ClickHead;
        public long ClickScanner;
        public long Unsubscribes;
        public long? FirstUnsubscribe;
    }

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
        var ledger = await LedgerExistsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, RollupTables + RollupBackfill + DeliveryTimesTable + (ledger ? DeliveryTimesBackfill : string.Empty), cancellationToken, transaction).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    });
}
