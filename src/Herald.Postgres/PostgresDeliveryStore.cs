using System.Runtime.CompilerServices;
using Npgsql;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

/// <summary>
/// The ledger on PostgreSQL, for any number of senders on any number of machines. Claims take due rows with
/// <c>FOR UPDATE SKIP LOCKED</c> under a lease and a fencing token from a sequence; every later change is conditional
/// on the token; every time that decides a lease is the database's <c>now()</c>. Marks, outcomes and renewals are
/// array statements, one round trip per group commit, never one per email.
/// </summary>
public sealed partial class PostgresDeliveryStore : PostgresStore, IDeliveryStore
{
    public PostgresDeliveryStore(PostgresConnections connections, bool ownsConnections)
        : base(connections, ownsConnections)
    {
    }

    /// <summary>Opens a pool for <paramref name="address"/> and migrates the schema.</summary>
    public static async Task<PostgresDeliveryStore> OpenAsync(PostgresAddress address, CancellationToken cancellationToken)
    {
        var store = new PostgresDeliveryStore(PostgresConnections.Open(address), ownsConnections: true);
        try
        {
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The schema version of the database, 0 when it has no Herald tables (nothing is created).</summary>
    public Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken) =>
        Connections.RunAsync(connection => PostgresSchema.GetVersionAsync(connection, null, cancellationToken), cancellationToken);

    /// <summary>States that prove a campaign started sending: a plan with any of them cannot be replaced.</summary>
    internal const string StartedCondition = "(attempts > 0 OR state IN (1, 2, 3, 4))";

    public Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand($"""
                SELECT fingerprint, created_at, row_count,
                       EXISTS (SELECT 1 FROM recipients WHERE campaign = $1 AND {StartedCondition})
                FROM plans WHERE campaign = $1
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new PlanInfo(campaignId, reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetInt64(2), reader.GetBoolean(3))
                : null;
        }, cancellationToken);
    }

    public Task<IPlanWriter> BeginPlanAsync(string campaignId, string fingerprint, CancellationToken cancellationToken) =>
        Connections.GuardAsync<IPlanWriter>(async () => await PostgresPlanWriter.BeginAsync(Connections, campaignId, fingerprint, cancellationToken).ConfigureAwait(false));

    public Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken)
    {
        return Connections.RunAsync<IReadOnlyList<string>>(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT campaign FROM plans ORDER BY created_at, campaign", connection);
            var result = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(reader.GetString(0));
            }

            return result;
        }, cancellationToken);
    }

    public Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT state, COUNT(*) FROM recipients WHERE campaign = $1 GROUP BY state", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            var counts = new long[6];
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetInt16(0)] = reader.GetInt64(1);
            }

            return new StateCounts(campaignId, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
        }, cancellationToken);
    }

    private static readonly string UnfinishedQuery =
        $"SELECT EXISTS (SELECT 1 FROM recipients WHERE campaign = $1 AND {LedgerTransitions.UnfinishedCondition("state")})";

    public Task<bool> HasUnfinishedAsync(string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            // Probes of ix_recipients_work (campaign, state, id); the counts would read every row of the campaign.
            await using var command = new NpgsqlCommand(UnfinishedQuery, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
        }, cancellationToken);
    }

    public Task<NextWork> GetNextWorkAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                SELECT now(),
                  (SELECT MIN(next_attempt_at) FROM recipients
                   WHERE campaign = $1 AND state = 0 AND (lease_owner IS NULL OR lease_until < now())),
                  (SELECT MIN(lease_until) FROM recipients
                   WHERE campaign = $1 AND state IN (0, 1) AND lease_owner IS NOT NULL AND lease_owner <> $2)
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = workerId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new NextWork(
                reader.GetFieldValue<DateTimeOffset>(0),
                reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2));
        }, cancellationToken);
    }

    public IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadPendingCoreAsync(campaignId, limit, cancellationToken), Connections.Map, cancellationToken);

    private async IAsyncEnumerable<WorkItem> ReadPendingCoreAsync(string campaignId, int limit, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            SELECT id, recipient_id, email, context, attempts, first_attempt_at, message_id, 0::bigint
            FROM recipients WHERE campaign = $1 AND state = 0 ORDER BY id LIMIT $2
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return ReadWorkItem(reader);
        }
    }

    /// <summary>Reads id, recipient_id, email, context, attempts, first_attempt_at, message_id, token.</summary>
    internal static WorkItem ReadWorkItem(NpgsqlDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.IsDBNull(3) ? ReadOnlyMemory<byte>.Empty : reader.GetFieldValue<byte[]>(3),
        reader.GetInt32(4),
        reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
        reader.GetString(6),
        reader.GetInt64(7));

    public IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadRecipientsCoreAsync(campaignId, cancellationToken), Connections.Map, cancellationToken);

    private async IAsyncEnumerable<RecipientRecord> ReadRecipientsCoreAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            SELECT id, recipient_id, email, state, attempts, smtp_code, smtp_text, relay, message_id, skip_reason, updated_at
            FROM recipients WHERE campaign = $1 ORDER BY id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new RecipientRecord(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                (DeliveryState)reader.GetInt16(3),
                reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.GetFieldValue<DateTimeOffset>(10));
        }
    }

    public Task<int> ResetInDoubtAsync(string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand($"""
                UPDATE recipients SET state = {(int)LedgerTransitions.Target(LedgerOperation.ResetInDoubt)}, next_attempt_at = 'epoch',
                    lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = now()
                WHERE campaign = $1 AND {LedgerTransitions.SqlCondition(LedgerOperation.ResetInDoubt, "state")}
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<int> ResetFailedAsync(string campaignId, Func<int?, string?, bool> match, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(match);
        var condition = LedgerTransitions.SqlCondition(LedgerOperation.ResetFailed, "state");
        return Connections.RunAsync(async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var ids = new List<long>();
            await using (var select = new NpgsqlCommand($"SELECT id, smtp_code, smtp_text FROM recipients WHERE campaign = $1 AND {condition} FOR UPDATE", connection, transaction))
            {
                select.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (match(reader.IsDBNull(1) ? null : reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2)))
                    {
                        ids.Add(reader.GetInt64(0));
                    }
                }
            }

            await using var update = new NpgsqlCommand($"""
                UPDATE recipients SET state = {(int)LedgerTransitions.Target(LedgerOperation.ResetFailed)}, attempts = 0, first_attempt_at = NULL,
                    next_attempt_at = 'epoch', lease_owner = NULL, lease_until = NULL, lease_token = NULL, updated_at = now()
                WHERE id = ANY($1) AND {condition}
                """, connection, transaction);
            update.Parameters.Add(Array(ids.ToArray(), NpgsqlTypes.NpgsqlDbType.Bigint));
            var reset = await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return reset;
        }, cancellationToken);
    }

}
