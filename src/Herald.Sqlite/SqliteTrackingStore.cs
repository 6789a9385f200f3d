using System.Runtime.CompilerServices;
using System.Text.Json;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The tracking tables (events, suppressions) in the SQLite file that also holds the delivery ledger. Opened by path;
/// WAL so the tracking server writes while <c>herald send</c> and <c>herald report</c> read; connections are pooled.
/// </summary>
public sealed partial class SqliteTrackingStore : ITrackingStore
{
    private const int SchemaVersion = RollupsVersion;
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteTrackingStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _connectionString = ConnectionStringFor(path);
    }

    public string Path => _path;

    /// <summary>The pooled connection string the tables beside the ledger (tracking, campaign state) open with.</summary>
    internal static string ConnectionStringFor(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = path,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    public Task<int> AppendEventsAsync(IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken) => GuardAsync(() => AppendEventsCoreAsync(events, cancellationToken));

    public Task<EventCounts> GetEventCountsAsync(string campaignId, CancellationToken cancellationToken) => GuardAsync(() => GetEventCountsCoreAsync(campaignId, cancellationToken));

    public Task<IReadOnlyList<string>> ListEventCampaignsAsync(CancellationToken cancellationToken) => GuardAsync(() => ListEventCampaignsCoreAsync(cancellationToken));

    public Task MigrateAsync(CancellationToken cancellationToken) => GuardAsync(() => MigrateCoreAsync(cancellationToken));

    public IAsyncEnumerable<TrackingEvent> ReadEventsAsync(string campaignId, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadEventsCoreAsync(campaignId, cancellationToken), Map, cancellationToken);

    private async Task MigrateCoreAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        // Up to date: nothing to write, so no write lock is taken and a server starts while another holds the database.
        if (await IsCurrentAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, """
            CREATE TABLE IF NOT EXISTS tracking_schema (version INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS tracking_events (
                id BLOB NOT NULL PRIMARY KEY,
                at INTEGER NOT NULL,
                kind INTEGER NOT NULL,
                campaign TEXT NOT NULL,
                recipient TEXT NOT NULL,
                link INTEGER NOT NULL,
                target TEXT,
                method TEXT NOT NULL,
                user_agent TEXT,
                client_net TEXT,
                flags INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS suppressions (
                email TEXT NOT NULL PRIMARY KEY,
                reason TEXT NOT NULL,
                campaign TEXT,
                at INTEGER NOT NULL
            ) WITHOUT ROWID;
            -- Suppressions are kept by comparison key (local part case-folded); entries from before are folded once.
            INSERT OR IGNORE INTO suppressions (email, reason, campaign, at)
                SELECT lower(email), reason, campaign, at FROM suppressions WHERE email <> lower(email);
            DELETE FROM suppressions WHERE email <> lower(email);
            """, cancellationToken, transaction).ConfigureAwait(false);

        await using (var check = connection.CreateCommand())
        {
            check.Transaction = transaction;
            check.CommandText = "SELECT MAX(version) FROM tracking_schema;";
            var current = await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (current is long version && version > SchemaVersion)
            {
                throw new StoreException($"{_path}: the tracking tables have schema version {version}; this herald knows {SchemaVersion}. Upgrade herald.");
            }

            if (current is not long known || known < RollupsVersion)
            {
                // Version 2: the report rollups, backfilled from the events already stored, in this transaction: a
                // writer waits, so no event is in neither the backfill nor the trigger.
                await ExecuteAsync(connection, RollupTables + RollupBackfill, cancellationToken, transaction).ConfigureAwait(false);
                check.CommandText = $"DELETE FROM tracking_schema; INSERT INTO tracking_schema (version) VALUES ({SchemaVersion});";
                await check.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<bool> IsCurrentAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tracking_schema';";
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            return false;
        }

        command.CommandText = "SELECT MAX(version) FROM tracking_schema;";
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long version && version == SchemaVersion;
    }

    private async Task<int> AppendEventsCoreAsync(IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return 0;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Many rows per statement: the per-statement cost of the provider dominates single-row inserts, and the
        // writer shares two cores with the request handlers.
        var added = 0;
        var full = events.Count / RowsPerInsert;
        if (full > 0)
        {
            await using var wide = CreateInsert(connection, transaction, RowsPerInsert);
            for (var chunk = 0; chunk < full; chunk++)
            {
                Bind(wide, events, chunk * RowsPerInsert, RowsPerInsert);
                added += await wide.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        var rest = events.Count - (full * RowsPerInsert);
        if (rest > 0)
        {
            await using var tail = CreateInsert(connection, transaction, rest);
            Bind(tail, events, full * RowsPerInsert, rest);
            added += await tail.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        List<SuppressionEntry>? unsubscribes = null;
        foreach (var e in events)
        {
            if (e.Kind == TrackingEventKind.Unsubscribe)
            {
                var email = e.Email ?? await FindLedgerEmailAsync(connection, transaction, e.CampaignId, e.RecipientId, cancellationToken).ConfigureAwait(false);
                if (email is not null)
                {
                    (unsubscribes ??= []).Add(new SuppressionEntry(email, SuppressionReason.Unsubscribed, e.CampaignId, e.At));
                }
            }
        }

        if (unsubscribes is not null)
        {
            await InsertSuppressionsAsync(connection, transaction, unsubscribes, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return added;
    }

    private const int RowsPerInsert = 64;
    private const int ColumnsPerRow = 11;

    private static SqliteCommand CreateInsert(SqliteConnection connection, SqliteTransaction transaction, int rows)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new System.Text.StringBuilder(
            "INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags) VALUES ");
        for (var row = 0; row < rows; row++)
        {
            sql.Append(row == 0 ? "(" : ",(");
            for (var column = 0; column < ColumnsPerRow; column++)
            {
                var name = $"$p{(row * ColumnsPerRow) + column}";
                sql.Append(column == 0 ? string.Empty : ",").Append(name);
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            sql.Append(')');
        }

        sql.Append(" ON CONFLICT (id) DO NOTHING;");
        command.CommandText = sql.ToString();
        command.Prepare();
        return command;
    }

    private static void Bind(SqliteCommand command, IReadOnlyList<TrackingEvent> events, int start, int rows)
    {
        var parameters = command.Parameters;
        for (var row = 0; row < rows; row++)
        {
            var e = events[start + row];
            var p = row * ColumnsPerRow;
            parameters[p].Value = e.Id.ToByteArray(bigEndian: true);
            parameters[p + 1].Value = e.At.UtcTicks;
            parameters[p + 2].Value = (int)e.Kind;
            parameters[p + 3].Value = e.CampaignId;
            parameters[p + 4].Value = e.RecipientId;
            parameters[p + 5].Value = e.LinkNumber;
            parameters[p + 6].Value = (object?)e.Target ?? DBNull.Value;
            parameters[p + 7].Value = e.Method;
            parameters[p + 8].Value = (object?)e.UserAgent ?? DBNull.Value;
            parameters[p + 9].Value = (object?)e.ClientNetwork ?? DBNull.Value;
            parameters[p + 10].Value = (int)e.Flags;
        }
    }

    private async IAsyncEnumerable<TrackingEvent> ReadEventsCoreAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, at, kind, recipient, link, target, method, user_agent, client_net, flags
            FROM tracking_events WHERE campaign = $campaign ORDER BY recipient, at, id;
            """;
        command.Parameters.AddWithValue("$campaign", campaignId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new TrackingEvent(
                new Guid((byte[])reader.GetValue(0), bigEndian: true),
                new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero),
                (TrackingEventKind)reader.GetInt32(2),
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

    private async Task<EventCounts> GetEventCountsCoreAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT kind, COUNT(*) FROM tracking_events WHERE campaign = $campaign GROUP BY kind;";
        command.Parameters.AddWithValue("$campaign", campaignId);
        long opens = 0, clicks = 0, unsubscribes = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var count = reader.GetInt64(1);
            switch ((TrackingEventKind)reader.GetInt32(0))
            {
                case TrackingEventKind.Open: opens = count; break;
                case TrackingEventKind.Click: clicks = count; break;
                case TrackingEventKind.Unsubscribe: unsubscribes = count; break;
                default: break;
            }
        }

        return new EventCounts(opens, clicks, unsubscribes);
    }

    private async Task<IReadOnlyList<string>> ListEventCampaignsCoreAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT campaign FROM tracking_events ORDER BY campaign;";
        var result = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    public ValueTask DisposeAsync()
    {
        // Pooled connections stay open for the process; clearing the pool releases the file (tests delete it).
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, "PRAGMA busy_timeout=5000; PRAGMA synchronous=NORMAL;", cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw SqliteErrors.ToStoreException(ex, $"{_path}: cannot open the store");
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> GuardAsync<T>(Func<Task<T>> work)
    {
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.ToStoreException(ex, _path);
        }
    }

    private Task GuardAsync(Func<Task> work) => GuardAsync(async () =>
    {
        await work().ConfigureAwait(false);
        return 0;
    });

    private Exception? Map(Exception ex) => ex is SqliteException sqlite ? SqliteErrors.ToStoreException(sqlite, _path) : null;

    private static string ToJson(IEnumerable<string> values) => JsonSerializer.Serialize(values);
}
