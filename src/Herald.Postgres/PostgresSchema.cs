using Npgsql;

namespace Herald.Postgres;

/// <summary>
/// The whole store's schema (ledger, workers, tracking, suppressions) in versions. <see cref="MigrateAsync"/> takes a
/// transaction-level advisory lock first, so any number of processes may migrate at once: one applies each step, the
/// others wait and then find nothing to do.
/// </summary>
internal static class PostgresSchema
{
    public const int Version = 7;

    /// <summary>The version from which the report rollups exist and every writer keeps them.</summary>
    public const int RollupsVersion = 6;

    /// <summary>The version from which the rollup recipients carry their delivery times (see <see cref="PostgresRollups.DeliveryTimes"/>).</summary>
    public const int DeliveryTimesVersion = 7;

    // Any fixed 64-bit number, the same in every Herald: the lock that serializes migrations ("herald" in ASCII).
    private const long MigrationLock = 0x68_65_72_61_6c_64;

    private static readonly string[] Steps =
    [
        // Version 1.
        """
        CREATE SEQUENCE herald_fencing AS bigint START 1;
        CREATE TABLE plans (
            campaign     text PRIMARY KEY,
            fingerprint  text NOT NULL,
            created_at   timestamptz NOT NULL,
            row_count    bigint NOT NULL
        );
        CREATE TABLE recipients (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            campaign         text NOT NULL,
            recipient_id     text NOT NULL,
            email            text NOT NULL,
            context          bytea,
            state            smallint NOT NULL,
            skip_reason      text,
            attempts         integer NOT NULL DEFAULT 0,
            next_attempt_at  timestamptz NOT NULL DEFAULT 'epoch',
            first_attempt_at timestamptz,
            lease_owner      text,
            lease_until      timestamptz,
            lease_token      bigint,
            smtp_code        integer,
            smtp_text        text,
            relay            text,
            message_id       text NOT NULL,
            created_at       timestamptz NOT NULL,
            updated_at       timestamptz NOT NULL
        );
        CREATE INDEX ix_recipients_work ON recipients (campaign, state, id);
        CREATE INDEX ix_recipients_recipient ON recipients (campaign, recipient_id);
        CREATE INDEX ix_recipients_lease ON recipients (lease_owner) WHERE lease_owner IS NOT NULL;
        CREATE TABLE workers (
            campaign    text NOT NULL,
            worker_id   text NOT NULL,
            host        text NOT NULL,
            pid         integer NOT NULL,
            started_at  timestamptz NOT NULL,
            renewed_at  timestamptz NOT NULL,
            lease_until timestamptz NOT NULL,
            PRIMARY KEY (campaign, worker_id)
        );
        CREATE TABLE tracking_events (
            id          uuid PRIMARY KEY,
            at          timestamptz NOT NULL,
            kind        smallint NOT NULL,
            campaign    text NOT NULL,
            recipient   text NOT NULL,
            link        integer NOT NULL,
            target      text,
            method      text NOT NULL,
            user_agent  text,
            client_net  text,
            flags       integer NOT NULL
        );
        CREATE INDEX tracking_events_by_recipient ON tracking_events (campaign, recipient);
        CREATE TABLE suppressions (
            email     text PRIMARY KEY,
            reason    text NOT NULL,
            campaign  text,
            at        timestamptz NOT NULL
        );
        """,

        // Version 2: suppressions are kept by comparison key (EmailAddress.ComparisonKey: local part case-folded).
        // Addresses before it had ASCII local parts only, so folding A-Z is the whole conversion.
        """
        INSERT INTO suppressions (email, reason, campaign, at)
            SELECT translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), reason, campaign, at
            FROM suppressions WHERE email ~ '[A-Z]' ORDER BY at
            ON CONFLICT (email) DO NOTHING;
        DELETE FROM suppressions WHERE email ~ '[A-Z]';
        """,

        // Version 3: campaign pauses and relay health (ICampaignStateStore).
        """
        CREATE TABLE campaign_pauses (
            campaign  text PRIMARY KEY,
            reason    text NOT NULL,
            since     timestamptz NOT NULL,
            worker    text
        );
        CREATE TABLE relay_health (
            campaign    text NOT NULL,
            name        text NOT NULL,
            state       text NOT NULL,
            last_reply  text,
            last_error  text,
            since       timestamptz NOT NULL,
            PRIMARY KEY (campaign, name)
        );
        """,

        // Version 4: reports. The link catalogue, and the two covering indexes every report query reads in order: by
        // recipient in byte order ("C", as the report streams are merged) and by time. They replace the narrower
        // (campaign, recipient) index. Written to apply again harmlessly (a development store of the report work had
        // these objects under another version number).
        """
        CREATE TABLE IF NOT EXISTS report_links (
            campaign      text NOT NULL,
            link          integer NOT NULL,
            label         text NOT NULL,
            static_target text,
            PRIMARY KEY (campaign, link)
        );
        CREATE INDEX IF NOT EXISTS tracking_events_by_kind_recipient ON tracking_events (campaign, kind, recipient COLLATE "C", at) INCLUDE (link, flags, target);
        CREATE INDEX IF NOT EXISTS tracking_events_by_kind_time ON tracking_events (campaign, kind, at) INCLUDE (flags);
        DROP INDEX IF EXISTS tracking_events_by_recipient;
        """,

        // Version 5: the claim's index. Claims take pending rows in id order; through (campaign, state, id) or the
        // primary key the planner walks every row already finished below the first pending one (the LIMIT's estimate
        // assumes pending rows are spread evenly), so each claim cost grew with the rows sent: O(n^2) per campaign.
        // Only pending rows are in this index; a finished row leaves it.
        """
        CREATE INDEX IF NOT EXISTS ix_recipients_pending ON recipients (campaign, id) WHERE state = 0;
        """,

        // Version 6: the report rollups (see PostgresRollups), backfilled from the events already stored in this
        // transaction.
        PostgresRollups.Tables + PostgresRollups.Backfill,

        // Version 7: the rollup recipients' delivery times, filled from the ledger in this transaction.
        PostgresRollups.DeliveryTimes + PostgresRollups.BackfillDeliveryTimes,
    ];

    /// <summary>The schema version, 0 when the database has no Herald tables.</summary>
    public static async Task<int> GetVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        // Two statements: a query naming a table that does not exist fails when parsed, whatever guards it.
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('herald_schema') IS NOT NULL", connection, transaction))
        {
            if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            {
                return 0;
            }
        }

        await using var command = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM herald_schema", connection, transaction);
        return (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public static async Task MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock({MigrationLock});
            CREATE TABLE IF NOT EXISTS herald_schema (version integer NOT NULL);
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var current = await GetVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false);

        if (current > Version)
        {
            throw new StoreException($"the store has schema version {current}; this herald knows {Version}. Upgrade herald.");
        }

        for (var version = current + 1; version <= Version; version++)
        {
            await using var command = new NpgsqlCommand(
                Steps[version - 1] + $"; DELETE FROM herald_schema; INSERT INTO herald_schema (version) VALUES ({version});",
                connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}
