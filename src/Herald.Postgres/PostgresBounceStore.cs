using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

/// <summary>
/// Bounce and complaint events, campaign bounce settings and the store's policy on PostgreSQL, beside the ledger in
/// the same database (whose rows it reads to map a bounce to its recipient). Appends are one array insert per batch,
/// idempotent per event id.
/// </summary>
public sealed partial class PostgresBounceStore : PostgresStore, IBounceStore
{
    private const string PolicySetting = "policy";

    // Its own tables, its own versions and its own advisory lock, so the bounce tables migrate independently of the ledger's steps.
    private const int SchemaVersion = 1;
    private const long MigrationLock = 0x68_65_72_61_6c_62; // "heralb"
    public PostgresBounceStore(PostgresConnections connections, bool ownsConnections)
        : base(connections, ownsConnections)
    {
    }

    public override Task MigrateAsync(CancellationToken cancellationToken) =>
        Connections.GuardAsync(async () =>
        {
            // The ledger first: the Message-ID index is on its table.
            await PostgresSchema.MigrateAsync(Connections.DataSource, cancellationToken).ConfigureAwait(false);
            await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand($"""
                SELECT pg_advisory_xact_lock({MigrationLock});
                CREATE TABLE IF NOT EXISTS bounce_schema (version integer NOT NULL);
                """, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            int current;
            await using (var command = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM bounce_schema", connection, transaction))
            {
                current = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            if (current > SchemaVersion)
            {
                throw new StoreException($"{Connections.Display}: the bounce tables have schema version {current}; this herald knows {SchemaVersion}. Upgrade herald.");
            }

            if (current < 1)
            {
                await using var command = new NpgsqlCommand("""
                    CREATE TABLE bounce_events (
                        id        uuid PRIMARY KEY,
                        at        timestamptz NOT NULL,
                        campaign  text NOT NULL,
                        recipient text NOT NULL,
                        email     text NOT NULL,
                        type      smallint NOT NULL,
                        code      text,
                        text      text,
                        source    smallint NOT NULL
                    );
                    CREATE INDEX bounce_events_by_recipient ON bounce_events (campaign, recipient, at);
                    CREATE INDEX bounce_events_by_email ON bounce_events (email, type, at);
                    CREATE TABLE bounce_campaigns (
                        campaign text PRIMARY KEY,
                        domain   text,
                        policy   text NOT NULL
                    );
                    CREATE TABLE bounce_settings (
                        name  text PRIMARY KEY,
                        value text NOT NULL
                    );
                    CREATE INDEX IF NOT EXISTS ix_recipients_message_id ON recipients (message_id);
                    DELETE FROM bounce_schema; INSERT INTO bounce_schema (version) VALUES (1);
                    """, connection, transaction);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        });

    public Task<int> AppendAsync(IReadOnlyList<BounceEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return Task.FromResult(0);
        }

        return Connections.RunAsync(async connection =>
        {
            await using var insert = new NpgsqlCommand("""
                INSERT INTO bounce_events (id, at, campaign, recipient, email, type, code, text, source)
                SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (id) DO NOTHING
                """, connection);
            insert.Parameters.Add(Array(events.Select(e => e.Id).ToArray(), NpgsqlDbType.Uuid));
            insert.Parameters.Add(Array(events.Select(e => e.At.ToUniversalTime()).ToArray(), NpgsqlDbType.TimestampTz));
            insert.Parameters.Add(Array(events.Select(e => e.CampaignId).ToArray(), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(events.Select(e => e.RecipientId).ToArray(), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(events.Select(e => e.Email).ToArray(), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(events.Select(e => (short)e.Type).ToArray(), NpgsqlDbType.Smallint));
            insert.Parameters.Add(Array(events.Select(e => e.Code).ToArray(), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(events.Select(e => e.Text).ToArray(), NpgsqlDbType.Text));
            insert.Parameters.Add(Array(events.Select(e => (short)e.Source).ToArray(), NpgsqlDbType.Smallint));
            return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<int> CountAsync(string email, BounceType type, DateTimeOffset since, CancellationToken cancellationToken) =>
        Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM bounce_events WHERE email = $1 AND type = $2 AND at >= $3", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = email });
            command.Parameters.Add(new NpgsqlParameter { Value = (short)type });
            command.Parameters.Add(new NpgsqlParameter { Value = since.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
            return (int)(long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }, cancellationToken);

    public IAsyncEnumerable<BounceEvent> ReadAsync(string campaignId, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadCoreAsync(campaignId, cancellationToken), Connections.Map, cancellationToken);

    private async IAsyncEnumerable<BounceEvent> ReadCoreAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            SELECT id, at, recipient, email, type, code, text, source
            FROM bounce_events WHERE campaign = $1 ORDER BY recipient COLLATE "C", at, id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new BounceEvent(
                reader.GetGuid(0),
                reader.GetFieldValue<DateTimeOffset>(1),
                campaignId,
                reader.GetString(2),
                reader.GetString(3),
                (BounceType)reader.GetInt16(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                (BounceSource)reader.GetInt16(7));
        }
    }

    public Task<BounceCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken) =>
        Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                SELECT COUNT(DISTINCT recipient) FILTER (WHERE type = 1), COUNT(DISTINCT recipient) FILTER (WHERE type = 2),
                       COUNT(DISTINCT recipient) FILTER (WHERE type = 3)
                FROM bounce_events WHERE campaign = $1
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new BounceCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }, cancellationToken);

    public Task<IReadOnlySet<string>> FindRecipientsWithAsync(string campaignId, BounceType type, IReadOnlyCollection<string> recipientIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipientIds);
        if (recipientIds.Count == 0)
        {
            return Task.FromResult<IReadOnlySet<string>>(new HashSet<string>(StringComparer.Ordinal));
        }

        return Connections.RunAsync<IReadOnlySet<string>>(async connection =>
        {
            await using var command = new NpgsqlCommand(
                "SELECT DISTINCT recipient FROM bounce_events WHERE campaign = $1 AND type = $2 AND recipient = ANY($3)", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = (short)type });
            command.Parameters.Add(Array(recipientIds.ToArray(), NpgsqlDbType.Text));
            var found = new HashSet<string>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                found.Add(reader.GetString(0));
            }

            return found;
        }, cancellationToken);
    }

    public Task SetCampaignSettingsAsync(CampaignBounceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO bounce_campaigns (campaign, domain, policy) VALUES ($1, $2, $3)
                ON CONFLICT (campaign) DO UPDATE SET domain = excluded.domain, policy = excluded.policy
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = settings.CampaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)settings.Domain?.ToLowerInvariant() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = settings.Policy.ToJson() });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<CampaignBounceSettings?> GetCampaignSettingsAsync(string campaignId, CancellationToken cancellationToken) =>
        Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT domain, policy FROM bounce_campaigns WHERE campaign = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            return new CampaignBounceSettings(campaignId, reader.IsDBNull(0) ? null : reader.GetString(0), ReadPolicy(reader.GetString(1)));
        }, cancellationToken);

    public Task<IReadOnlyList<string>> ListDomainsAsync(CancellationToken cancellationToken) =>
        Connections.RunAsync<IReadOnlyList<string>>(async connection =>
        {
            await using var command = new NpgsqlCommand(
                "SELECT domain FROM (SELECT DISTINCT domain FROM bounce_campaigns WHERE domain IS NOT NULL) d ORDER BY domain COLLATE \"C\"", connection);
            var domains = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                domains.Add(reader.GetString(0));
            }

            return domains;
        }, cancellationToken);

    public Task<BouncePolicySettings> GetStorePolicyAsync(CancellationToken cancellationToken) =>
        Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT value FROM bounce_settings WHERE name = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = PolicySetting });
            return ReadPolicy(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string);
        }, cancellationToken);

    public Task SetStorePolicyAsync(BouncePolicySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO bounce_settings (name, value) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = PolicySetting });
            command.Parameters.Add(new NpgsqlParameter { Value = settings.ToJson() });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }


    private BouncePolicySettings ReadPolicy(string? json)
    {
        try
        {
            return BouncePolicySettings.FromJson(json);
        }
        catch (JsonException ex)
        {
            throw new StoreException($"{Connections.Display}: a stored bounce policy is not valid JSON: {ex.Message}", ex);
        }
    }
}
