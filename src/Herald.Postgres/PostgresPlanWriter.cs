using Npgsql;
using NpgsqlTypes;

namespace Herald.Postgres;

/// <summary>
/// Writes a plan with binary COPY inside one transaction: nothing is visible until commit, and a failed or abandoned
/// prepare leaves the previous plan as it was.
/// </summary>
internal sealed class PostgresPlanWriter : IPlanWriter
{
    private readonly PostgresConnections _connections;
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly string _campaignId;
    private readonly string _fingerprint;
    private NpgsqlBinaryImporter? _importer;
    private long _rows;
    private bool _committed;

    private PostgresPlanWriter(PostgresConnections connections, NpgsqlConnection connection, NpgsqlTransaction transaction, string campaignId, string fingerprint)
    {
        _connections = connections;
        _connection = connection;
        _transaction = transaction;
        _campaignId = campaignId;
        _fingerprint = fingerprint;
    }

    public static async Task<PostgresPlanWriter> BeginAsync(PostgresConnections connections, string campaignId, string fingerprint, CancellationToken cancellationToken)
    {
        var connection = await connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlTransaction? transaction = null;
        try
        {
            transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            // Two prepares of one campaign queue up here; a claim or mark racing the swap is settled below.
            await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('herald-plan:' || $1, 0))", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var command = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM recipients WHERE campaign = $1 AND {PostgresDeliveryStore.StartedCondition})", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
                {
                    throw Started(campaignId);
                }
            }

            // The delete takes every row's lock, and reports what the rows held when it got them: a mark that
            // committed after the check above is seen here, and one that comes later finds its row gone.
            await using (var command = new NpgsqlCommand($"""
                WITH gone AS (DELETE FROM recipients WHERE campaign = $1 RETURNING attempts, state)
                SELECT COUNT(*) FILTER (WHERE {PostgresDeliveryStore.StartedCondition}) FROM gone
                """, connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long started and > 0)
                {
                    throw Started(campaignId);
                }
            }

            await using (var command = new NpgsqlCommand("DELETE FROM plans WHERE campaign = $1", connection, transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            var writer = new PostgresPlanWriter(connections, connection, transaction, campaignId, fingerprint);
            writer._importer = await connection.BeginBinaryImportAsync(
                "COPY recipients (campaign, recipient_id, email, context, state, skip_reason, message_id, created_at, updated_at) FROM STDIN (FORMAT BINARY)",
                cancellationToken).ConfigureAwait(false);
            return writer;
        }
        catch
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }

            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static StoreException Started(string campaignId) =>
        new($"campaign '{campaignId}' has already started sending; its plan cannot be replaced.");

    public async Task AddAsync(IReadOnlyList<PlanEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ObjectDisposedException.ThrowIf(_committed || _importer is null, this);
        var now = DateTime.UtcNow;
        try
        {
            foreach (var entry in entries)
            {
                await _importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await _importer.WriteAsync(_campaignId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await _importer.WriteAsync(entry.RecipientId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await _importer.WriteAsync(entry.Email, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                if (entry.Context.IsEmpty)
                {
                    await _importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    // The caller may reuse the memory once this returns: COPY serializes it now.
                    await _importer.WriteAsync(entry.Context, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
                }

                await _importer.WriteAsync((short)(entry.SkipReason is null ? DeliveryState.Pending : DeliveryState.Skipped), NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
                if (entry.SkipReason is null)
                {
                    await _importer.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _importer.WriteAsync(entry.SkipReason, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                }

                await _importer.WriteAsync(entry.MessageId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await _importer.WriteAsync(now, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                await _importer.WriteAsync(now, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                _rows++;
            }
        }
        catch (Exception ex) when (_connections.Map(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_committed || _importer is null, this);
        try
        {
            await _importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            await _importer.DisposeAsync().ConfigureAwait(false);
            _importer = null;
            await using (var command = new NpgsqlCommand("INSERT INTO plans (campaign, fingerprint, created_at, row_count) VALUES ($1, $2, now(), $3)", _connection, _transaction))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = _campaignId });
                command.Parameters.Add(new NpgsqlParameter { Value = _fingerprint });
                command.Parameters.Add(new NpgsqlParameter { Value = _rows });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await _transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _committed = true;

            // A plan is most of the table: without statistics that count it the planner takes the claims' and marks'
            // conditions for one row and picks plans that read every pending row (tens of ms per group commit).
            // Autovacuum analyzes only after a minute; the first senders start now. Best effort: the plan is committed,
            // and a role that does not own the table only gets a warning.
            try
            {
                await using var analyze = new NpgsqlCommand("ANALYZE recipients", _connection);
                await analyze.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // Statistics arrive with autovacuum instead.
            }
        }
        catch (Exception ex) when (_connections.Map(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_importer is not null)
            {
                // Disposing an importer that was not completed cancels the COPY; the transaction then rolls back.
                await _importer.DisposeAsync().ConfigureAwait(false);
                _importer = null;
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException)
        {
            // The rollback below (or the broken connection) discards the rows either way.
        }

        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
