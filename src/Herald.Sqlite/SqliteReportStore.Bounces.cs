using System.Runtime.CompilerServices;
using Herald.Store;

namespace Herald.Sqlite;

public sealed partial class SqliteReportStore
{
    public async Task<BounceFacts> GetBouncesAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "bounce_events", cancellationToken).ConfigureAwait(false))
        {
            return new BounceFacts(0, 0, 0);
        }

        // One row per recipient first, so a recipient with several bounces counts once (hard over soft).
        await using var command = Command(connection, """
            SELECT IFNULL(SUM(h), 0), IFNULL(SUM(s AND NOT h), 0), IFNULL(SUM(c), 0) FROM (
                SELECT MAX(type = 1) AS h, MAX(type = 2) AS s, MAX(type = 3) AS c
                FROM bounce_events WHERE campaign = $c GROUP BY recipient);
            """, campaignId);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        Read(reader, cancellationToken);
        return new BounceFacts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    public async IAsyncEnumerable<BounceRow> ReadBouncesAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        if (!await TableExistsAsync(connection, "bounce_events", cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        await using var command = Command(connection, "SELECT recipient, type, code FROM bounce_events WHERE campaign = $c ORDER BY recipient, at, id;", campaignId);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken).ConfigureAwait(false);
        while (Read(reader, cancellationToken))
        {
            yield return new BounceRow(reader.GetString(0), (BounceType)reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2));
        }
    }
}
