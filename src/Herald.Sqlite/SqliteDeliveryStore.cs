using System.Data;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The embedded ledger: one SQLite file in WAL mode. One sender per campaign at a time, enforced by an OS file lock
/// held from <see cref="RecoverAsync"/> to disposal; so any row left in <c>sending</c> when the lock is taken belongs
/// to a sender that is gone.
/// </summary>
public sealed partial class SqliteDeliveryStore : IDeliveryStore
{
    private readonly string _path;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<string, FileStream> _senderLocks = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    private SqliteDeliveryStore(string path, TimeProvider time)
    {
        _path = Path.GetFullPath(path);
        _time = time;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _writer = new SqliteConnection(_connectionString);
    }

    /// <summary>The database file.</summary>
    public string DatabasePath => _path;

    /// <summary>Opens (creating when needed) and migrates the store at <paramref name="path"/>.</summary>
    public static async Task<SqliteDeliveryStore> OpenAsync(string path, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new StoreException($"{path}: the folder of the database does not exist.");
        }

        var store = new SqliteDeliveryStore(path, time ?? TimeProvider.System);
        try
        {
            await store._writer.OpenAsync(cancellationToken).ConfigureAwait(false);
            Configure(store._writer);
            await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            return store;
        }
        catch (SqliteException ex)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw new StoreException($"{path}: cannot open the database: {ex.Message}", ex);
        }
    }

    internal static void Configure(SqliteConnection connection)
    {
        // WAL + synchronous=NORMAL: a commit is durable against a process crash or kill (the WAL is in the OS before
        // COMMIT returns); HERALD_SQLITE_SYNC=full also survives power loss at the cost of an fsync per group commit.
        var sync = string.Equals(Environment.GetEnvironmentVariable("HERALD_SQLITE_SYNC"), "full", StringComparison.OrdinalIgnoreCase)
            ? "FULL" : "NORMAL";
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;";
        command.ExecuteNonQuery();
    }

    public Task MigrateAsync(CancellationToken cancellationToken)
    {
        return WithWriterAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = Schema;
            command.ExecuteNonQuery();
            return 0;
        }, cancellationToken);
    }

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS plans (
            campaign     TEXT PRIMARY KEY,
            fingerprint  TEXT NOT NULL,
            created_at   INTEGER NOT NULL,
            row_count    INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS recipients (
            id               INTEGER PRIMARY KEY,
            campaign         TEXT NOT NULL,
            recipient_id     TEXT NOT NULL,
            email            TEXT NOT NULL,
            context          BLOB,
            state            INTEGER NOT NULL,
            skip_reason      TEXT,
            attempts         INTEGER NOT NULL DEFAULT 0,
            next_attempt_at  INTEGER NOT NULL DEFAULT 0,
            first_attempt_at INTEGER,
            lease_owner      TEXT,
            lease_until      INTEGER,
            smtp_code        INTEGER,
            smtp_text        TEXT,
            relay            TEXT,
            message_id       TEXT NOT NULL,
            created_at       INTEGER NOT NULL,
            updated_at       INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ix_recipients_work ON recipients (campaign, state, id);
        CREATE INDEX IF NOT EXISTS ix_recipients_recipient ON recipients (campaign, recipient_id);
        """;

    public async Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT fingerprint, created_at, row_count,
                   EXISTS (SELECT 1 FROM recipients WHERE campaign = $c AND (attempts > 0 OR state IN (1, 2, 3, 4)))
            FROM plans WHERE campaign = $c
            """;
        command.Parameters.AddWithValue("$c", campaignId);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new PlanInfo(campaignId, reader.GetString(0), FromMs(reader.GetInt64(1)), reader.GetInt64(2), reader.GetInt64(3) != 0);
    }

    public async Task<IPlanWriter> BeginPlanAsync(string campaignId, string fingerprint, CancellationToken cancellationToken)
    {
        // The writer checks "already started" inside its write transaction, where no sender can slip in between.
        var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A plan is one long transaction of inserts into two indexes: a 64 MB page cache keeps them off the disk until commit.
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA cache_size=-65536;";
                pragma.ExecuteNonQuery();
            }

            return new SqlitePlanWriter(connection, campaignId, fingerprint, NowMs());
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT campaign FROM plans ORDER BY created_at, campaign";
        var result = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }

    public async Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM recipients WHERE campaign = $c GROUP BY state";
        command.Parameters.AddWithValue("$c", campaignId);
        var counts = new long[6];
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            counts[reader.GetInt32(0)] = reader.GetInt64(1);
        }

        return new StateCounts(campaignId, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
    }

    public async Task<DateTimeOffset?> GetNextDueAsync(string campaignId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT MIN(CASE WHEN lease_owner IS NULL OR lease_until < $now THEN next_attempt_at ELSE lease_until END)
            FROM recipients WHERE campaign = $c AND state = 0
            """;
        command.Parameters.AddWithValue("$c", campaignId);
        command.Parameters.AddWithValue("$now", NowMs());
        var value = command.ExecuteScalar();
        return value is long ms ? FromMs(ms) : null;
    }

    public async IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, recipient_id, email, context, attempts, first_attempt_at, message_id
            FROM recipients WHERE campaign = $c AND state = 0 ORDER BY id LIMIT $limit
            """;
        command.Parameters.AddWithValue("$c", campaignId);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new WorkItem(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.IsDBNull(3) ? ReadOnlyMemory<byte>.Empty : (byte[])reader.GetValue(3),
                reader.GetInt32(4),
                reader.IsDBNull(5) ? null : FromMs(reader.GetInt64(5)),
                reader.GetString(6));
        }
    }

    public async IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, recipient_id, email, state, attempts, smtp_code, smtp_text, relay, message_id, skip_reason, updated_at
            FROM recipients WHERE campaign = $c ORDER BY id
            """;
        command.Parameters.AddWithValue("$c", campaignId);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new RecipientRecord(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                (DeliveryState)reader.GetInt32(3),
                reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                FromMs(reader.GetInt64(10)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var fileLock in _senderLocks.Values)
        {
            await fileLock.DisposeAsync().ConfigureAwait(false);
        }

        _senderLocks.Clear();
        await _writer.DisposeAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }

    private async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA busy_timeout=30000;";
        command.ExecuteNonQuery();
        return connection;
    }

    private async Task<T> WithWriterAsync<T>(Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return work(_writer);
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"{_path}: {ex.Message}", ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    internal long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
