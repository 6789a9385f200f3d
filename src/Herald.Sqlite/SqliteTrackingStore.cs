using System.Runtime.CompilerServices;
using System.Text.Json;
using Herald.Store;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Herald.Sqlite;

/// <summary>
/// The tracking tables (events, suppressions) in the SQLite file that also holds the delivery ledger. Opened by path;
/// WAL so the tracking server writes while <c>herald send</c> and <c>herald report</c> read; connections are pooled.
/// </summary>
public sealed partial class SqliteTrackingStore : ITrackingStore
{
    private const int SchemaVersion = DeliveryTimesVersion;

    // Set once seen: the ledger's table and the kept delivery times, once in this file, stay.
    private volatile bool _deliveryTimesKept;
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

            var known = current as long? ?? 0;
            if (known < GroupedRollupsVersion)
            {
                // Version 3: the rows this store writes carry rolled = 1 and their rollups are written by the store;
                // the trigger keeps those of other writers. Version 2: the report rollups, backfilled from the events
                // already stored, in this transaction: a writer waits, so no event is in neither the backfill nor the
                // rollups written since.
                check.CommandText = "SELECT COUNT(*) FROM pragma_table_info('tracking_events') WHERE name = 'rolled';";
                var rolled = await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long n && n > 0;
                await ExecuteAsync(connection, (rolled ? string.Empty : AddRolled) + GroupedRollups + RollupTables + (known < RollupsVersion ? RollupBackfill : string.Empty), cancellationToken, transaction)
                    .ConfigureAwait(false);
            }

            if (known < DeliveryTimesVersion)
            {
                // Version 4: the rollup recipients' delivery times, filled from the ledger in this transaction.
                var ledger = await LedgerExistsAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection, DeliveryTimesTable + (ledger ? DeliveryTimesBackfill : string.Empty), cancellationToken, transaction).ConfigureAwait(false);
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

        var added = InsertEvents(connection, events, cancellationToken);
        _deliveryTimesKept = _deliveryTimesKept || await KeepsDeliveryTimesAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        WriteRollups(connection, added, _deliveryTimesKept);

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
        return added.Count;
    }

    // rolled = 1: this store writes the rollups of its rows itself (WriteRollups), so the trigger leaves them alone.
    private const string InsertSql = """
        INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags, rolled)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1) ON CONFLICT (id) DO NOTHING;
        """;

    /// <summary>
    /// Inserts the events in the open transaction, one prepared row statement with its parameters bound by position,
    /// and returns those that were new (a replayed id adds nothing). Through the provider each statement costs more than
    /// the row; multi-row statements, tried before, bind each of their hundreds of parameters by name, which SQLite looks
    /// up one by one in a list: that lookup was a tenth of the tracking server's CPU.
    /// </summary>
    private static List<TrackingEvent> InsertEvents(SqliteConnection connection, IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken)
    {
        var added = new List<TrackingEvent>(events.Count);
        using var insert = RawStatement.Prepare(connection.Handle!, InsertSql);
        Span<byte> id = stackalloc byte[16];
        foreach (var e in events)
        {
            cancellationToken.ThrowIfCancellationRequested();
            e.Id.TryWriteBytes(id, bigEndian: true, out _);
            insert.Blob(1, id).Int64(2, e.At.UtcTicks).Int64(3, (int)e.Kind).Text(4, e.CampaignId).Text(5, e.RecipientId).Int64(6, e.LinkNumber)
                .Text(7, e.Target).Text(8, e.Method).Text(9, e.UserAgent).Text(10, e.ClientNetwork).Int64(11, (int)e.Flags);
            if (insert.Execute() > 0)
            {
                added.Add(e);
            }
        }

        return added;
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
