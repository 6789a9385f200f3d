using System.Data;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// The embedded ledger: one SQLite file in WAL mode. One sender process per campaign at a time, enforced by an OS
/// file lock keyed by the database file's real path, held from <see cref="RegisterWorkerAsync"/> (or
/// <see cref="RecoverAsync"/>) to disposal; so any row held by a worker of another process when the lock is taken
/// belongs to a sender that is gone, and is recovered at once instead of after its lease.
/// </summary>
public sealed partial class SqliteDeliveryStore : IDeliveryStore
{
    private readonly string _path;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<string, FileStream> _senderLocks = new(StringComparer.Ordinal);
    private readonly HashSet<string> _localWorkers = new(StringComparer.Ordinal);
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
            throw SqliteErrors.ToStoreException(ex, $"{path}: cannot open the database");
        }
        catch (StoreException)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
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
            // Up to date: nothing to write, so no write lock is taken (a tracking server starts while a sender, or a
            // test, holds the database).
            if (IsCurrent(connection))
            {
                return 0;
            }

            // BEGIN IMMEDIATE takes SQLite's write lock first: processes migrating at once run one after the other.
            using var transaction = connection.BeginTransaction(deferred: false);
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = SchemaV1 + "CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL);";
            command.ExecuteNonQuery();
            command.CommandText = "SELECT MAX(version) FROM ledger_schema";
            var version = command.ExecuteScalar() is long v ? v : 1;
            if (version > SchemaVersion)
            {
                throw new StoreException($"{_path}: the ledger has schema version {version}; this herald knows {SchemaVersion}. Upgrade herald.");
            }

            if (version < 2)
            {
                command.CommandText = "SELECT COUNT(*) FROM pragma_table_info('recipients') WHERE name = 'lease_token'";
                if ((long)command.ExecuteScalar()! == 0)
                {
                    // Token 0 is never handed out: a lease left by a version-1 sender can be recovered, never finished.
                    command.CommandText = "ALTER TABLE recipients ADD COLUMN lease_token INTEGER; UPDATE recipients SET lease_token = 0 WHERE lease_owner IS NOT NULL;";
                    command.ExecuteNonQuery();
                }

                command.CommandText = SchemaV2 + "DELETE FROM ledger_schema; INSERT INTO ledger_schema (version) VALUES (2);";
                command.ExecuteNonQuery();
            }

            transaction.Commit();
            return 0;
        }, cancellationToken);
    }

    private static bool IsCurrent(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ledger_schema'";
        if (command.ExecuteScalar() is null)
        {
            return false;
        }

        command.CommandText = "SELECT MAX(version) FROM ledger_schema";
        return command.ExecuteScalar() is long version && version == SchemaVersion;
    }

    private const int SchemaVersion = 2;

    private const string SchemaV1 = """
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

    // Version 2: fencing tokens (one counter), the workers registry, rows held per worker.
    private const string SchemaV2 = """
        CREATE TABLE IF NOT EXISTS ledger_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT OR IGNORE INTO ledger_counters (name, value) VALUES ('fencing', 0);
        CREATE TABLE IF NOT EXISTS workers (
            campaign    TEXT NOT NULL,
            worker_id   TEXT NOT NULL,
            host        TEXT NOT NULL,
            pid         INTEGER NOT NULL,
            started_at  INTEGER NOT NULL,
            renewed_at  INTEGER NOT NULL,
            lease_until INTEGER NOT NULL,
            PRIMARY KEY (campaign, worker_id)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS ix_recipients_lease ON recipients (lease_owner) WHERE lease_owner IS NOT NULL;
        """;

    public Task<PlanInfo?> GetPlanAsync(string campaignId, CancellationToken cancellationToken)
    {
        return ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"""
                SELECT fingerprint, created_at, row_count,
                       EXISTS (SELECT 1 FROM recipients WHERE campaign = $c AND (attempts > 0 OR state IN ({StartedStates})))
                FROM plans WHERE campaign = $c
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            using var reader = command.ExecuteReader();
            return reader.Read()
                ? new PlanInfo(campaignId, reader.GetString(0), FromMs(reader.GetInt64(1)), reader.GetInt64(2), reader.GetInt64(3) != 0)
                : null;
        }, cancellationToken);
    }

    /// <summary>States that prove a campaign started sending: a plan with any of them cannot be replaced.</summary>
    internal const string StartedStates = "1, 2, 3, 4";

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

            return new SqlitePlanWriter(connection, campaignId, fingerprint, NowMs(), _path);
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Error(ex);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public Task<IReadOnlyList<string>> ListCampaignsAsync(CancellationToken cancellationToken)
    {
        return ReadAsync<IReadOnlyList<string>>(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT campaign FROM plans ORDER BY created_at, campaign";
            var result = new List<string>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                result.Add(reader.GetString(0));
            }

            return result;
        }, cancellationToken);
    }

    public Task<StateCounts> GetCountsAsync(string campaignId, CancellationToken cancellationToken)
    {
        return ReadAsync(connection =>
        {
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
        }, cancellationToken);
    }

    private static readonly string UnfinishedQuery =
        $"SELECT EXISTS (SELECT 1 FROM recipients WHERE campaign = $c AND {LedgerTransitions.UnfinishedCondition("state")})";

    public Task<bool> HasUnfinishedAsync(string campaignId, CancellationToken cancellationToken)
    {
        return ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            // Probes of ix_recipients_work (campaign, state, id).
            command.CommandText = UnfinishedQuery;
            command.Parameters.AddWithValue("$c", campaignId);
            return (long)command.ExecuteScalar()! != 0;
        }, cancellationToken);
    }

    public Task<NextWork> GetNextWorkAsync(string campaignId, string workerId, CancellationToken cancellationToken)
    {
        return ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT
                  (SELECT MIN(next_attempt_at) FROM recipients
                   WHERE campaign = $c AND state = 0 AND (lease_owner IS NULL OR lease_until < $now)),
                  (SELECT MIN(lease_until) FROM recipients
                   WHERE campaign = $c AND state IN (0, 1) AND lease_owner IS NOT NULL AND lease_owner <> $w)
                """;
            var now = NowMs();
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$w", workerId);
            command.Parameters.AddWithValue("$now", now);
            using var reader = command.ExecuteReader();
            reader.Read();
            return new NextWork(
                FromMs(now),
                reader.IsDBNull(0) ? null : FromMs(reader.GetInt64(0)),
                reader.IsDBNull(1) ? null : FromMs(reader.GetInt64(1)));
        }, cancellationToken);
    }

    public IAsyncEnumerable<WorkItem> ReadPendingAsync(string campaignId, int limit, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadPendingCoreAsync(campaignId, limit, cancellationToken), Map, cancellationToken);

    private async IAsyncEnumerable<WorkItem> ReadPendingCoreAsync(string campaignId, int limit, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
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
            yield return ReadWorkItem(reader, token: 0);
        }
    }

    internal static WorkItem ReadWorkItem(SqliteDataReader reader, long token) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.IsDBNull(3) ? ReadOnlyMemory<byte>.Empty : (byte[])reader.GetValue(3),
        reader.GetInt32(4),
        reader.IsDBNull(5) ? null : FromMs(reader.GetInt64(5)),
        reader.GetString(6),
        token);

    public IAsyncEnumerable<RecipientRecord> ReadRecipientsAsync(string campaignId, CancellationToken cancellationToken) =>
        StoreErrors.Guard(ReadRecipientsCoreAsync(campaignId, cancellationToken), Map, cancellationToken);

    private async IAsyncEnumerable<RecipientRecord> ReadRecipientsCoreAsync(string campaignId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
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

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return read(connection);
        }
        catch (SqliteException ex)
        {
            throw Error(ex);
        }
    }

    private Exception? Map(Exception ex) => ex is SqliteException sqlite ? Error(sqlite) : null;

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
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout=30000;";
            command.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Error(ex);
        }
    }

    private StoreException Error(SqliteException ex) => SqliteErrors.ToStoreException(ex, _path);

    private async Task<T> WithWriterAsync<T>(Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return work(_writer);
        }
        catch (SqliteException ex)
        {
            throw Error(ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    internal long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
