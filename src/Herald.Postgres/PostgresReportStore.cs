using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

/// <summary>
/// Reports on PostgreSQL: aggregates computed by the server over the covering indexes of schema version 2, streams in
/// byte order of the recipient id (<c>COLLATE "C"</c>). Cancellation cancels the running statement on the server.
/// </summary>
public sealed partial class PostgresReportStore : PostgresStore, IReportStore
{
    /// <summary>Memory a report query may sort or hash in before spilling to disk (the ledger in recipient order: a million rows).</summary>
    private const string WorkMem = "128MB";

    public PostgresReportStore(PostgresConnections connections, bool ownsConnections)
        : base(connections, ownsConnections)
    {
    }

    public Task SaveLinksAsync(string campaignId, IReadOnlyList<LinkDefinition> links, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(links);
        return Connections.RunAsync(async connection =>
        {
            // Several senders of one campaign save the same catalogue as they start: an upsert, never delete-then-insert
            // (two of those at once collide on the key of the rows the other inserted).
            var numbers = links.Select(l => l.Number).ToArray();
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var delete = new NpgsqlCommand("DELETE FROM report_links WHERE campaign = $1 AND link <> ALL($2)", connection, transaction))
            {
                delete.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                delete.Parameters.Add(Array(numbers, NpgsqlDbType.Integer));
                await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var insert = new NpgsqlCommand(
                """
                INSERT INTO report_links (campaign, link, label, static_target) SELECT $1, * FROM unnest($2, $3, $4)
                ON CONFLICT (campaign, link) DO UPDATE SET label = excluded.label, static_target = excluded.static_target
                """, connection, transaction))
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = campaignId });
                insert.Parameters.Add(Array(links.Select(l => l.Number).ToArray(), NpgsqlDbType.Integer));
                insert.Parameters.Add(Array(links.Select(l => l.Label).ToArray(), NpgsqlDbType.Text));
                insert.Parameters.Add(Array(links.Select(l => l.StaticTarget).ToArray(), NpgsqlDbType.Text));
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<LinkDefinition>> GetLinksAsync(string campaignId, CancellationToken cancellationToken) =>
        Connections.RunAsync<IReadOnlyList<LinkDefinition>>(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT link, label, static_target FROM report_links WHERE campaign = $1 ORDER BY link", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            var links = new List<LinkDefinition>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                links.Add(new LinkDefinition(reader.GetInt32(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
            }

            return links;
        }, cancellationToken);

    public Task<IReadOnlyList<CampaignListing>> ListCampaignsAsync(CancellationToken cancellationToken) =>
        Connections.RunAsync<IReadOnlyList<CampaignListing>>(async connection =>
        {
            // Campaigns of the events by a skip scan over the leading index column (one probe per campaign), then the
            // cheap counts per campaign, each an index range; the event counts from the minute rollup when kept.
            var (count, source) = await RollupsCurrentAsync(connection, cancellationToken).ConfigureAwait(false)
                ? ("coalesce(sum(events), 0)::bigint", "rollup_minutes")
                : ("count(*)", "tracking_events");
            await using var command = new NpgsqlCommand($"""
                WITH RECURSIVE skip(id) AS (
                    SELECT min(campaign) FROM tracking_events
                    UNION ALL
                    SELECT (SELECT min(campaign) FROM tracking_events WHERE campaign > skip.id) FROM skip WHERE skip.id IS NOT NULL),
                ids AS (SELECT id FROM skip WHERE id IS NOT NULL UNION SELECT campaign FROM plans)
                SELECT ids.id,
                       (SELECT created_at FROM plans WHERE campaign = ids.id),
                       ledger.total, ledger.sent,
                       (SELECT {count} FROM {source} WHERE campaign = ids.id AND kind = 1),
                       (SELECT {count} FROM {source} WHERE campaign = ids.id AND kind = 2),
                       (SELECT count(DISTINCT recipient) FROM tracking_events WHERE campaign = ids.id AND kind = 3),
                       greatest((SELECT max(at) FROM tracking_events WHERE campaign = ids.id AND kind = 1),
                                (SELECT max(at) FROM tracking_events WHERE campaign = ids.id AND kind = 2),
                                (SELECT max(at) FROM tracking_events WHERE campaign = ids.id AND kind = 3))
                FROM ids
                -- Both ledger counts in one pass over the campaign's index entries (two counts read them twice).
                CROSS JOIN LATERAL (SELECT count(*) AS total, count(*) FILTER (WHERE state = 2) AS sent FROM recipients WHERE campaign = ids.id) AS ledger
                ORDER BY ids.id COLLATE "C"
                """, connection);
            var result = new List<CampaignListing>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new CampaignListing(
                    reader.GetString(0),
                    reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1),
                    reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6),
                    reader.IsDBNull(7) ? null : reader.GetFieldValue<DateTimeOffset>(7)));
            }

            return result;
        }, cancellationToken);

    public Task<DeliveryFacts?> GetDeliveryAsync(string campaignId, CancellationToken cancellationToken) =>
        Connections.RunAsync<DeliveryFacts?>(async connection =>
        {
            await using var batch = new NpgsqlBatch(connection)
            {
                BatchCommands =
                {
                    new NpgsqlBatchCommand("SELECT created_at FROM plans WHERE campaign = $1"),
                    new NpgsqlBatchCommand("SELECT state, count(*) FROM recipients WHERE campaign = $1 GROUP BY state"),
                    new NpgsqlBatchCommand("""
                        SELECT smtp_code, min(smtp_text), count(*) FROM recipients WHERE campaign = $1 AND state = 3
                        GROUP BY smtp_code ORDER BY count(*) DESC, smtp_code
                        """),
                    new NpgsqlBatchCommand("SELECT coalesce(skip_reason, 'unknown'), count(*) FROM recipients WHERE campaign = $1 AND state = 5 GROUP BY 1"),
                },
            };
            foreach (var command in batch.BatchCommands)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            }

            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            var planned = reader.GetFieldValue<DateTimeOffset>(0);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            var counts = new long[6];
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var state = reader.GetInt16(0);
                if (state is >= 0 and < 6)
                {
                    counts[state] = reader.GetInt64(1);
                }
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            var failures = new List<FailureCount>();
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                failures.Add(new FailureCount(reader.IsDBNull(0) ? null : reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetInt64(2)));
            }

            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            var skips = new SortedDictionary<string, long>(StringComparer.Ordinal);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                skips[reader.GetString(0)] = reader.GetInt64(1);
            }

            return new DeliveryFacts(planned, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], failures, skips);
        }, cancellationToken);

    public IAsyncEnumerable<DeliveredRow> ReadDeliveredAsync(string campaignId, int part, int parts, CancellationToken cancellationToken)
    {
        ReportRanges.CheckPart(part, parts);
        return Stream(ReadDeliveredCoreAsync(campaignId, part, parts, cancellationToken), cancellationToken);
    }

    private async IAsyncEnumerable<DeliveredRow> ReadDeliveredCoreAsync(string campaignId, int part, int parts, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // The sent rows' id span (two probes of the work index), cut into ranges of ids.
        long min, max;
        await using (var span = new NpgsqlCommand("SELECT min(id), max(id) FROM recipients WHERE campaign = $1 AND state = 2", connection))
        {
            span.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var bounds = await span.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await bounds.ReadAsync(cancellationToken).ConfigureAwait(false) || bounds.IsDBNull(0))
            {
                yield break;
            }

            (min, max) = (bounds.GetInt64(0), bounds.GetInt64(1));
        }

        await using var command = new NpgsqlCommand("SELECT recipient_id, updated_at FROM recipients WHERE campaign = $1 AND state = 2 AND id >= $2 AND id < $3 ORDER BY id", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        var (from, to) = ReportRanges.PlanPart(min, max, part, parts);
        command.Parameters.Add(new NpgsqlParameter { Value = from });
        command.Parameters.Add(new NpgsqlParameter { Value = to });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new DeliveredRow(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1));
        }
    }

    public Task<EventSpan?> GetDeliverySpanAsync(string campaignId, CancellationToken cancellationToken) =>
        RunAsync<EventSpan?>(async connection =>
        {
            await using var command = new NpgsqlCommand("SELECT min(updated_at), max(updated_at) FROM recipients WHERE campaign = $1 AND state = 2", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && !reader.IsDBNull(0)
                ? new EventSpan(reader.GetFieldValue<DateTimeOffset>(0), reader.GetFieldValue<DateTimeOffset>(1))
                : null;
        }, cancellationToken);

    public Task<bool> PrefersEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        return Connections.RunAsync(connection => UsesDeliveryTimesAsync(connection, window, cancellationToken), cancellationToken);
    }

    public IAsyncEnumerable<DeliveredRow> ReadEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(window);
        return Stream(ReadEngagedDeliveriesCoreAsync(window, cancellationToken), cancellationToken);
    }

    private async IAsyncEnumerable<DeliveredRow> ReadEngagedDeliveriesCoreAsync(EventWindow window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var kept = await UsesDeliveryTimesAsync(connection, window, cancellationToken).ConfigureAwait(false);
        // Without kept times (a date window, an older schema): the window's recipients from the events, each looked up
        // in the ledger. Correct, and slower than the map a report reads instead (PrefersEngagedDeliveriesAsync).
        await using var command = new NpgsqlCommand(kept ? RollupDeliveries : $"""
            SELECT recipient, at FROM (
                SELECT e.recipient, (SELECT l.updated_at FROM recipients l
                    WHERE l.campaign = $1 AND l.recipient_id = e.recipient COLLATE "default" AND l.state = 2 ORDER BY l.id LIMIT 1) AS at
                FROM (SELECT DISTINCT recipient COLLATE "C" AS recipient FROM tracking_events WHERE {InWindow}) e) found
            WHERE at IS NOT NULL ORDER BY recipient
            """, connection);
        AddWindow(command, window, kept);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new DeliveredRow(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1));
        }
    }

    public IAsyncEnumerable<LedgerEntry> ReadLedgerAsync(string campaignId, bool details, CancellationToken cancellationToken) =>
        Stream(ReadLedgerCoreAsync(campaignId, details, cancellationToken), cancellationToken);

    private async IAsyncEnumerable<LedgerEntry> ReadLedgerCoreAsync(string campaignId, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var columns = details ? ", email, smtp_code, smtp_text, attempts, skip_reason" : string.Empty;
        await using var command = new NpgsqlCommand(
            $"SELECT recipient_id, state, updated_at{columns} FROM recipients WHERE campaign = $1 ORDER BY recipient_id COLLATE \"C\", id", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return details
                ? new LedgerEntry(
                    reader.GetString(0), (DeliveryState)reader.GetInt16(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7))
                : new LedgerEntry(reader.GetString(0), (DeliveryState)reader.GetInt16(1), reader.GetFieldValue<DateTimeOffset>(2));
        }
    }


    /// <summary>A pooled connection with room to sort a campaign's recipients in memory.</summary>
    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await Connections.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand($"SET work_mem = '{WorkMem}'", connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private Task<T> RunAsync<T>(Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken) =>
        Connections.GuardAsync(async () =>
        {
            await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            return await work(connection).ConfigureAwait(false);
        });

    private IAsyncEnumerable<T> Stream<T>(IAsyncEnumerable<T> source, CancellationToken cancellationToken) =>
        StoreErrors.Guard(source, Connections.Map, cancellationToken);

    /// <summary>$1 campaign, then (unless the query reads the rollups, which have no time) $2 from and $3 to.</summary>
    private static void AddWindow(NpgsqlCommand command, EventWindow window, bool rollups = false)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = window.CampaignId });
        if (rollups)
        {
            return;
        }

        command.Parameters.Add(new NpgsqlParameter { Value = window.From?.ToUniversalTime() ?? DateTimeOffset.MinValue, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = window.To?.ToUniversalTime() ?? DateTimeOffset.MaxValue, NpgsqlDbType = NpgsqlDbType.TimestampTz });
    }

    /// <summary>$1 campaign, $2 from, $3 to.</summary>
    private const string InWindow = "campaign = $1 AND at >= $2 AND at < $3";
}
