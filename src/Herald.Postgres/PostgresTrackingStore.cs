using System.Runtime.CompilerServices;
using Herald.Recipients;
using Npgsql;
using NpgsqlTypes;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

/// <summary>
/// Tracking events and the suppression list on PostgreSQL, beside the ledger in the same database, shared by any
/// number of tracking servers. Appends are one array insert per batch, idempotent per event id.
/// </summary>
public sealed class PostgresTrackingStore : PostgresStore, ITrackingStore
{
    public PostgresTrackingStore(PostgresConnections connections, bool ownsConnections)
        : base(connections, ownsConnections)
    {
    }

    // Set once seen: a schema version never goes down. Until then each append asks (a store upgraded while this
    // server runs gets the delivery times from its next batch on).
    private volatile bool _deliveryTimesKept;

    public Task<int> AppendEventsAsync(IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return Task.FromResult(0);
        }

        return Connections.RunAsync(async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            int added;
            if (!_deliveryTimesKept)
            {
                _deliveryTimesKept = await PostgresSchema.GetVersionAsync(connection, transaction, cancellationToken).ConfigureAwait(false) >= PostgresSchema.DeliveryTimesVersion;
            }

            // One statement: the insert, and the rollups of the rows it added (a replayed event is not among them).
            await using (var insert = new NpgsqlCommand(_deliveryTimesKept ? PostgresRollups.Append : PostgresRollups.AppendWithoutDeliveryTimes, connection, transaction))
            {
                insert.Parameters.Add(Array(events.Select(e => e.Id).ToArray(), NpgsqlDbType.Uuid));
                insert.Parameters.Add(Array(events.Select(e => e.At.ToUniversalTime()).ToArray(), NpgsqlDbType.TimestampTz));
                insert.Parameters.Add(Array(events.Select(e => (short)e.Kind).ToArray(), NpgsqlDbType.Smallint));
                insert.Parameters.Add(Array(events.Select(e => e.CampaignId).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(events.Select(e => e.RecipientId).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(events.Select(e => e.LinkNumber).ToArray(), NpgsqlDbType.Integer));
                insert.Parameters.Add(Array(events.Select(e => e.Target).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(events.Select(e => e.Method).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(events.Select(e => e.UserAgent).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(events.Select(e => e.ClientNetwork).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(events.Select(e => (int)e.Flags).ToArray(), NpgsqlDbType.Integer));
                added = (int)(long)(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            var unsubscribes = events.Where(e => e.Kind == TrackingEventKind.Unsubscribe).ToList();
            if (unsubscribes.Count > 0)
            {
                var known = await FindLedgerEmailsAsync(connection, transaction, unsubscribes.Where(e => e.Email is null).ToList(), cancellationToken).ConfigureAwait(false);
                var entries = new List<SuppressionEntry>();
                foreach (var e in unsubscribes)
                {
                    if ((e.Email ?? known.GetValueOrDefault((e.CampaignId, e.RecipientId))) is { } email)
                    {
                        entries.Add(new SuppressionEntry(email, SuppressionReason.Unsubscribed, e.CampaignId, e.At));
                    }
                }

                await InsertSuppressionsAsync(connection, transaction, entries, cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return added;
        }, cancellationToken);
    }

    /// <summary>
    /// Recomputes the report rollups from the events, in one transaction (appends wait): for a store whose events were
    /// loaded around the store (COPY), or to check the rollups against the events.
    /// </summary>
    public Task RebuildRollupsAsync(CancellationToken cancellationToken) =>
        Connections.RunAsync(async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand(PostgresRollups.Backfill + PostgresRollups.BackfillDeliveryTimes, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>The ledger addresses of recipients, in one query (the first row in plan order per recipient).</summary>
    private static async Task<Dictionary<(string, string), string>> FindLedgerEmailsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<TrackingEvent> events, CancellationToken cancellationToken)
    {
        var found = new Dictionary<(string, string), string>();
        if (events.Count == 0)
        {
            return found;
        }

        await using var command = new NpgsqlCommand("""
            SELECT DISTINCT ON (r.campaign, r.recipient_id) r.campaign, r.recipient_id, r.email
            FROM recipients r JOIN unnest($1, $2) AS k(campaign, recipient) ON r.campaign = k.campaign AND r.recipient_id = k.recipient
            ORDER BY r.campaign, r.recipient_id, r.id
            """, connection, transaction);
        command.Parameters.Add(Array(events.Select(e => e.CampaignId).ToArray(), NpgsqlDbType.Text));
        command.Parameters.Add(Array(events.Select(e => e.RecipientId).ToArray(), NpgsqlDbType.Text));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found[(reader.GetString(0), reader.GetString(1))] = reader.GetString(2);
        }

        return found;
    }

    public IAsyncEnumerable<TrackingEvent> ReadEventsAsync(string campaignId, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadEventsCoreAsync(campaignId, cancellationToken), Connections.Map, cancellationToken);

    private async IAsyncEnumerable<TrackingEvent> ReadEventsCoreAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            SELECT id, at, kind, recipient, link, target, method, user_agent, client_net, flags
            FROM tracking_events WHERE campaign = $1 ORDER BY recipient COLLATE "C", at, id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new TrackingEvent(
                reader.GetGuid(0),
                reader.GetFieldValue<DateTimeOffset>(1),
                (TrackingEventKind)reader.GetInt16(2),
                campaignId,
                reader.GetString(3),
                reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                (EventFlags)reader.GetInt32(9));
        }
    }

    public Task<EventCounts> GetEventCountsAsync(string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                SELECT COUNT(*) FILTER (WHERE kind = 1), COUNT(*) FILTER (WHERE kind = 2), COUNT(*) FILTER (WHERE kind = 3)
                FROM tracking_events WHERE campaign = $1
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new EventCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }, cancellationToken);
    }

    public Task<IReadOnlyList<string>> ListEventCampaignsAsync(CancellationToken cancellationToken)
    {
        return Connections.RunAsync<IReadOnlyList<string>>(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT campaign FROM (SELECT DISTINCT campaign FROM tracking_events) c ORDER BY campaign COLLATE \"C\"", connection);
            var result = new List<string>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(reader.GetString(0));
            }

            return result;
        }, cancellationToken);
    }

    public Task<IReadOnlySet<string>> FindSuppressedAsync(IReadOnlyCollection<string> normalizedEmails, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(normalizedEmails);
        if (normalizedEmails.Count == 0)
        {
            return Task.FromResult<IReadOnlySet<string>>(new HashSet<string>(StringComparer.Ordinal));
        }

        return Connections.RunAsync<IReadOnlySet<string>>(async connection =>
        {
            var byKey = SuppressionKeys.ByKey(normalizedEmails);
            await using var command = new NpgsqlCommand("SELECT email FROM suppressions WHERE email = ANY($1)", connection);
            command.Parameters.Add(Array(byKey.Keys.ToArray(), NpgsqlDbType.Text));
            var found = new HashSet<string>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (byKey.TryGetValue(reader.GetString(0), out var spellings))
                {
                    found.UnionWith(spellings);
                }
            }

            return found;
        }, cancellationToken);
    }

    public Task<int> AddSuppressionsAsync(IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return Task.FromResult(0);
        }

        return Connections.RunAsync(connection => InsertSuppressionsAsync(connection, null, entries, cancellationToken), cancellationToken);
    }

    private static async Task<int> InsertSuppressionsAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<SuppressionEntry> entries, CancellationToken cancellationToken)
    {
        if (entries.Count == 0)
        {
            return 0;
        }

        // An address already suppressed keeps its first reason and time (and within one batch, the first entry wins).
        await using var command = new NpgsqlCommand("""
            INSERT INTO suppressions (email, reason, campaign, at)
            SELECT email, reason, campaign, at FROM unnest($1, $2, $3, $4) WITH ORDINALITY AS e(email, reason, campaign, at, n)
            ORDER BY n
            ON CONFLICT (email) DO NOTHING
            """, connection, transaction);
        command.Parameters.Add(Array(entries.Select(e => EmailAddress.ComparisonKey(e.Email)).ToArray(), NpgsqlDbType.Text));
        command.Parameters.Add(Array(entries.Select(e => e.Reason.ToName()).ToArray(), NpgsqlDbType.Text));
        command.Parameters.Add(Array(entries.Select(e => e.CampaignId).ToArray(), NpgsqlDbType.Text));
        command.Parameters.Add(Array(entries.Select(e => e.At.ToUniversalTime()).ToArray(), NpgsqlDbType.TimestampTz));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> RemoveSuppressionAsync(string normalizedEmail, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("DELETE FROM suppressions WHERE email = $1", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = EmailAddress.ComparisonKey(normalizedEmail) });
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }, cancellationToken);
    }

    public IAsyncEnumerable<SuppressionEntry> ListSuppressionsAsync(CancellationToken cancellationToken) =>
        StoreErrors.Guard(ListSuppressionsCoreAsync(cancellationToken), Connections.Map, cancellationToken);

    private async IAsyncEnumerable<SuppressionEntry> ListSuppressionsCoreAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT email, reason, campaign, at FROM suppressions ORDER BY email COLLATE \"C\"", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var reason = SuppressionReasons.TryParse(reader.GetString(1), out var parsed) ? parsed : SuppressionReason.Manual;
            yield return new SuppressionEntry(
                reader.GetString(0),
                reason,
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3));
        }
    }

}
