namespace Herald.Postgres;

/// <summary>
/// The report rollups (schema version 6; the recipients' delivery times since version 7), kept by <see cref="PostgresTrackingStore.AppendEventsAsync"/> in the insert's
/// statement from the rows the insert returned (so a replayed event adds nothing): per recipient, per recipient and
/// click target, and per minute and kind. The events and every upsert's rows are sorted, so tracking servers appending
/// at once (two of them replaying one journal, too) take their locks in one order and never deadlock.
/// </summary>
internal static class PostgresRollups
{
    // The recipient id in byte order ("C"), as the report streams are merged. A click target is keyed as
    // '>' || target, '' without one, so an empty target and none stay apart. Minutes are counted since the epoch: the
    // timeline's bucket edges are whole minutes, so minute rows add up to any bucket exactly. Written to apply again
    // harmlessly (the backfill empties them first), as a store migrated back to an older version needs.
    public const string Tables = """
        CREATE TABLE IF NOT EXISTS rollup_recipients (
            campaign             text NOT NULL,
            recipient            text COLLATE "C" NOT NULL,
            opens                bigint NOT NULL,
            opens_unflagged      bigint NOT NULL,
            first_open           timestamptz,
            first_unflagged_open timestamptz,
            open_head            bigint NOT NULL,
            open_scanner         bigint NOT NULL,
            open_mpp             bigint NOT NULL,
            clicks               bigint NOT NULL,
            first_click          timestamptz,
            click_head           bigint NOT NULL,
            click_scanner        bigint NOT NULL,
            unsubscribes         bigint NOT NULL,
            first_unsubscribe    timestamptz,
            PRIMARY KEY (campaign, recipient)
        );
        CREATE TABLE IF NOT EXISTS rollup_clicks (
            campaign   text NOT NULL,
            recipient  text COLLATE "C" NOT NULL,
            link       integer NOT NULL,
            target     text NOT NULL,
            clicks     bigint NOT NULL,
            PRIMARY KEY (campaign, recipient, link, target)
        );
        CREATE TABLE IF NOT EXISTS rollup_minutes (
            campaign   text NOT NULL,
            kind       smallint NOT NULL,
            minute     bigint NOT NULL,
            events     bigint NOT NULL,
            unflagged  bigint NOT NULL,
            PRIMARY KEY (campaign, kind, minute)
        );
        """;

    /// <summary>
    /// The rollups recomputed from the events. The share lock waits for appends in flight and holds new ones until
    /// the transaction commits, so no event is missed between the backfill and the appends that keep the rollups.
    /// </summary>
    public const string Backfill = $"""
        LOCK TABLE tracking_events IN SHARE MODE;
        TRUNCATE rollup_recipients, rollup_clicks, rollup_minutes;
        INSERT INTO rollup_recipients {PerRecipient} FROM tracking_events GROUP BY campaign, recipient;
        INSERT INTO rollup_clicks {PerTarget} FROM tracking_events WHERE kind = 2 GROUP BY 1, 2, 3, 4;
        INSERT INTO rollup_minutes {PerMinute} FROM tracking_events GROUP BY 1, 2, 3;
        """;

    /// <summary>
    /// Version 7: each rollup recipient's delivery time, copied from the ledger when its row is written, so that a
    /// full-range report reads the delivery times of the recipients with events beside their rollups instead of
    /// every sent row of the campaign. NULL while the ledger has no <c>sent</c> row for the recipient (an event before
    /// the mark, a message in doubt): the report reads the ledger for those rows.
    /// </summary>
    public const string DeliveryTimes = """
        ALTER TABLE rollup_recipients ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
        """;

    /// <summary>
    /// The delivery times of every rollup recipient from the ledger: the first <c>sent</c> row in plan order, as the
    /// report reads them (a recipient id planned twice keeps its first delivery). After <see cref="Backfill"/>.
    /// </summary>
    public const string BackfillDeliveryTimes = """
        UPDATE rollup_recipients r SET delivered_at = d.updated_at
        FROM (SELECT DISTINCT ON (campaign, recipient_id) campaign, recipient_id, updated_at
              FROM recipients WHERE state = 2 ORDER BY campaign, recipient_id, id) d
        WHERE d.campaign = r.campaign AND d.recipient_id = r.recipient COLLATE "default";
        """;

    /// <summary>The insert of <see cref="PostgresTrackingStore.AppendEventsAsync"/> with the rollup upserts of the rows it added; returns how many were added.</summary>
    public static readonly string Append = AppendOf(deliveryTimes: true);

    /// <summary><see cref="Append"/> for a store of version 6 (not yet upgraded: a tracking server never migrates), without the delivery times.</summary>
    public static readonly string AppendWithoutDeliveryTimes = AppendOf(deliveryTimes: false);

    private static string AppendOf(bool deliveryTimes) => $"""
        WITH added AS (
            INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
            SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ORDER BY 1
            ON CONFLICT (id) DO NOTHING
            RETURNING at, kind, campaign, recipient, link, target, flags),
        by_recipient AS (
            INSERT INTO rollup_recipients AS r {PerRecipient}{(deliveryTimes ? ", " + DeliveredAt : string.Empty)} FROM added GROUP BY campaign, recipient ORDER BY campaign, recipient
            ON CONFLICT (campaign, recipient) DO UPDATE SET{(deliveryTimes ? " delivered_at = coalesce(r.delivered_at, excluded.delivered_at)," : string.Empty)}
                opens = r.opens + excluded.opens,
                opens_unflagged = r.opens_unflagged + excluded.opens_unflagged,
                first_open = least(r.first_open, excluded.first_open),
                first_unflagged_open = least(r.first_unflagged_open, excluded.first_unflagged_open),
                open_head = r.open_head + excluded.open_head,
                open_scanner = r.open_scanner + excluded.open_scanner,
                open_mpp = r.open_mpp + excluded.open_mpp,
                clicks = r.clicks + excluded.clicks,
                first_click = least(r.first_click, excluded.first_click),
                click_head = r.click_head + excluded.click_head,
                click_scanner = r.click_scanner + excluded.click_scanner,
                unsubscribes = r.unsubscribes + excluded.unsubscribes,
                first_unsubscribe = least(r.first_unsubscribe, excluded.first_unsubscribe)),
        by_target AS (
            INSERT INTO rollup_clicks AS c {PerTarget} FROM added WHERE kind = 2 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
            ON CONFLICT (campaign, recipient, link, target) DO UPDATE SET clicks = c.clicks + excluded.clicks),
        by_minute AS (
            INSERT INTO rollup_minutes AS m {PerMinute} FROM added GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            ON CONFLICT (campaign, kind, minute) DO UPDATE SET events = m.events + excluded.events, unflagged = m.unflagged + excluded.unflagged)
        SELECT count(*) FROM added
        """;

    private const string PerRecipient = """
        SELECT campaign, recipient,
               count(*) FILTER (WHERE kind = 1), count(*) FILTER (WHERE kind = 1 AND flags = 0),
               min(at) FILTER (WHERE kind = 1), min(at) FILTER (WHERE kind = 1 AND flags = 0),
               count(*) FILTER (WHERE kind = 1 AND flags & 1 <> 0), count(*) FILTER (WHERE kind = 1 AND flags & 2 <> 0),
               count(*) FILTER (WHERE kind = 1 AND flags & 4 <> 0),
               count(*) FILTER (WHERE kind = 2), min(at) FILTER (WHERE kind = 2),
               count(*) FILTER (WHERE kind = 2 AND flags & 1 <> 0), count(*) FILTER (WHERE kind = 2 AND flags & 2 <> 0),
               count(*) FILTER (WHERE kind = 3), min(at) FILTER (WHERE kind = 3)
        """;

    /// <summary>
    /// The recipient's delivery time from the ledger (one probe of its recipient index per recipient of a batch), in
    /// the grouped insert of <see cref="Append"/>; NULL until the ledger has a <c>sent</c> row (then a later event, or
    /// the report, finds it).
    /// </summary>
    private const string DeliveredAt = """
        (SELECT l.updated_at FROM recipients l
         WHERE l.campaign = added.campaign AND l.recipient_id = added.recipient AND l.state = 2 ORDER BY l.id LIMIT 1)
        """;

    private const string PerTarget = "SELECT campaign, recipient, link, coalesce('>' || target, ''), count(*)";

    private const string PerMinute = "SELECT campaign, kind, floor(extract(epoch FROM at) / 60)::bigint, count(*), count(*) FILTER (WHERE flags = 0)";

    /// <summary>Minutes since the epoch of a whole-minute instant, as <c>rollup_minutes.minute</c> counts them.</summary>
    public static long Minute(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMinute;
}
