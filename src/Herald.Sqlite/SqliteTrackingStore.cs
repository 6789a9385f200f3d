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
    private const int SchemaVersion = 1;
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteTrackingStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public string Path => _path;

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, """
            CREATE TABLE IF NOT EXISTS tracking_schema (version INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS tracking_events (
                seq INTEGER PRIMARY KEY,
                id BLOB NOT NULL UNIQUE,
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
            );
            CREATE INDEX IF NOT EXISTS tracking_events_by_recipient ON tracking_events (campaign, recipient, at);
            CREATE TABLE IF NOT EXISTS suppressions (
                email TEXT NOT NULL PRIMARY KEY,
                reason TEXT NOT NULL,
                campaign TEXT,
                at INTEGER NOT NULL
            ) WITHOUT ROWID;
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

            if (current is null or DBNull)
            {
                check.CommandText = $"INSERT INTO tracking_schema (version) VALUES ({SchemaVersion});";
                await check.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> AppendEventsAsync(IReadOnlyList<TrackingEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return 0;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
            VALUES ($id, $at, $kind, $campaign, $recipient, $link, $target, $method, $ua, $net, $flags)
            ON CONFLICT (id) DO NOTHING;
            """;
        var id = insert.Parameters.Add("$id", SqliteType.Blob);
        var at = insert.Parameters.Add("$at", SqliteType.Integer);
        var kind = insert.Parameters.Add("$kind", SqliteType.Integer);
        var campaign = insert.Parameters.Add("$campaign", SqliteType.Text);
        var recipient = insert.Parameters.Add("$recipient", SqliteType.Text);
        var link = insert.Parameters.Add("$link", SqliteType.Integer);
        var target = insert.Parameters.Add("$target", SqliteType.Text);
        var method = insert.Parameters.Add("$method", SqliteType.Text);
        var ua = insert.Parameters.Add("$ua", SqliteType.Text);
        var net = insert.Parameters.Add("$net", SqliteType.Text);
        var flags = insert.Parameters.Add("$flags", SqliteType.Integer);
        insert.Prepare();

        var added = 0;
        List<SuppressionEntry>? unsubscribes = null;
        foreach (var e in events)
        {
            id.Value = e.Id.ToByteArray(bigEndian: true);
            at.Value = e.At.UtcTicks;
            kind.Value = (int)e.Kind;
            campaign.Value = e.CampaignId;
            recipient.Value = e.RecipientId;
            link.Value = e.LinkNumber;
            target.Value = (object?)e.Target ?? DBNull.Value;
            method.Value = e.Method;
            ua.Value = (object?)e.UserAgent ?? DBNull.Value;
            net.Value = (object?)e.ClientNetwork ?? DBNull.Value;
            flags.Value = (int)e.Flags;
            var inserted = await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            added += inserted;
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

    public async IAsyncEnumerable<TrackingEvent> ReadEventsAsync(string campaignId, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, at, kind, recipient, link, target, method, user_agent, client_net, flags
            FROM tracking_events WHERE campaign = $campaign ORDER BY recipient, at, seq;
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

    public async Task<EventCounts> GetEventCountsAsync(string campaignId, CancellationToken cancellationToken)
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

    public async Task<IReadOnlyList<string>> ListEventCampaignsAsync(CancellationToken cancellationToken)
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
            throw new StoreException($"{_path}: cannot open the store: {ex.Message}", ex);
        }
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string ToJson(IEnumerable<string> values) => JsonSerializer.Serialize(values);
}
