using System.Runtime.CompilerServices;
using Herald.Store;
using Npgsql;

namespace Herald.Postgres;

public sealed partial class PostgresReportStore
{
    public Task<BounceFacts> GetBouncesAsync(string campaignId, CancellationToken cancellationToken) =>
        RunAsync(async connection =>
        {
            if (!await HasBounceTablesAsync(connection, cancellationToken).ConfigureAwait(false))
            {
                return new BounceFacts(0, 0, 0);
            }

            // One row per recipient first, so a recipient with several bounces counts once (hard over soft).
            await using var command = new NpgsqlCommand("""
                SELECT count(*) FILTER (WHERE h), count(*) FILTER (WHERE s AND NOT h), count(*) FILTER (WHERE c) FROM (
                    SELECT bool_or(type = 1) AS h, bool_or(type = 2) AS s, bool_or(type = 3) AS c
                    FROM bounce_events WHERE campaign = $1 GROUP BY recipient) per_recipient
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new BounceFacts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }, cancellationToken);

    public IAsyncEnumerable<BounceRow> ReadBouncesAsync(string campaignId, CancellationToken cancellationToken) =>
        Stream(ReadBouncesCoreAsync(campaignId, cancellationToken), cancellationToken);

    private async IAsyncEnumerable<BounceRow> ReadBouncesCoreAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await HasBounceTablesAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        await using var command = new NpgsqlCommand("""
            SELECT recipient COLLATE "C", type, code FROM bounce_events WHERE campaign = $1 ORDER BY recipient COLLATE "C", at, id
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new BounceRow(reader.GetString(0), (BounceType)reader.GetInt16(1), reader.IsDBNull(2) ? null : reader.GetString(2));
        }
    }

    /// <summary>The bounce tables are created by the bounce store's migration; a store that never ran it has none.</summary>
    private static async Task<bool> HasBounceTablesAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT to_regclass('bounce_events') IS NOT NULL", connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }
}
