using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>
/// Campaign pauses and relay health in the SQLite file that also holds the ledger (their own tables). Written on
/// changes only, so a short connection per call is cheap; readers of a store created before these tables existed see
/// no pause and no health rather than an error.
/// </summary>
public sealed class SqliteCampaignStateStore : ICampaignStateStore
{
    private readonly string _connectionString;
    private readonly string _path;

    public SqliteCampaignStateStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _path = path;
        _connectionString = SqliteTrackingStore.ConnectionStringFor(path);
    }

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await RunAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE IF NOT EXISTS campaign_pauses (
                    campaign TEXT NOT NULL PRIMARY KEY,
                    reason   TEXT NOT NULL,
                    since    INTEGER NOT NULL,
                    worker   TEXT
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS relay_health (
                    campaign   TEXT NOT NULL,
                    name       TEXT NOT NULL,
                    state      TEXT NOT NULL,
                    last_reply TEXT,
                    last_error TEXT,
                    since      INTEGER NOT NULL,
                    PRIMARY KEY (campaign, name)
                ) WITHOUT ROWID;
                """;
            command.ExecuteNonQuery();
            return 0;
        }, cancellationToken).ConfigureAwait(false);
    }

    public Task PauseAsync(string campaignId, CampaignPause pause, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pause);
        return RunAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO campaign_pauses (campaign, reason, since, worker) VALUES ($c, $r, $s, $w)
                ON CONFLICT (campaign) DO UPDATE SET reason = excluded.reason, since = excluded.since, worker = excluded.worker
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            command.Parameters.AddWithValue("$r", pause.Reason);
            command.Parameters.AddWithValue("$s", pause.Since.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$w", (object?)pause.WorkerId ?? DBNull.Value);
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public Task<CampaignPause?> ResumeAsync(string campaignId, CancellationToken cancellationToken)
    {
        return RunAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM campaign_pauses WHERE campaign = $c RETURNING reason, since, worker";
            command.Parameters.AddWithValue("$c", campaignId);
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadPause(reader) : null;
        }, cancellationToken);
    }

    public Task<CampaignPause?> GetPauseAsync(string campaignId, CancellationToken cancellationToken)
    {
        return ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT reason, since, worker FROM campaign_pauses WHERE campaign = $c";
            command.Parameters.AddWithValue("$c", campaignId);
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadPause(reader) : null;
        }, null, cancellationToken);
    }

    public Task SaveRelayHealthAsync(string campaignId, IReadOnlyList<RelayHealth> relays, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(relays);
        if (relays.Count == 0)
        {
            return Task.CompletedTask;
        }

        return RunAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = """
                INSERT INTO relay_health (campaign, name, state, last_reply, last_error, since) VALUES ($c, $n, $st, $r, $e, $s)
                ON CONFLICT (campaign, name) DO UPDATE SET state = excluded.state, last_reply = excluded.last_reply,
                    last_error = excluded.last_error, since = excluded.since
                """;
            command.Parameters.AddWithValue("$c", campaignId);
            var name = command.Parameters.Add("$n", SqliteType.Text);
            var state = command.Parameters.Add("$st", SqliteType.Text);
            var reply = command.Parameters.Add("$r", SqliteType.Text);
            var error = command.Parameters.Add("$e", SqliteType.Text);
            var since = command.Parameters.Add("$s", SqliteType.Integer);
            foreach (var relay in relays)
            {
                name.Value = relay.Name;
                state.Value = relay.State.ToName();
                reply.Value = (object?)relay.LastReply ?? DBNull.Value;
                error.Value = (object?)relay.LastError ?? DBNull.Value;
                since.Value = relay.Since.ToUnixTimeMilliseconds();
                command.ExecuteNonQuery();
            }

            transaction.Commit();
            return 0;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<RelayHealth>> GetRelayHealthAsync(string campaignId, CancellationToken cancellationToken)
    {
        return ReadAsync<IReadOnlyList<RelayHealth>>(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT name, state, last_reply, last_error, since FROM relay_health WHERE campaign = $c ORDER BY name";
            command.Parameters.AddWithValue("$c", campaignId);
            using var reader = command.ExecuteReader();
            var result = new List<RelayHealth>();
            while (reader.Read())
            {
                result.Add(new RelayHealth(
                    reader.GetString(0),
                    RelayHealthStates.Parse(reader.GetString(1)),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))));
            }

            return result;
        }, [], cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static CampaignPause ReadPause(SqliteDataReader reader) =>
        new(reader.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.IsDBNull(2) ? null : reader.GetString(2));

    private async Task<T> RunAsync<T>(Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new SqliteConnection(_connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA busy_timeout=30000;";
                pragma.ExecuteNonQuery();
            }

            return work(connection);
        }
        catch (SqliteException ex)
        {
            throw new StoreException($"{_path}: {ex.Message}", ex);
        }
    }

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, T> work, T missing, CancellationToken cancellationToken)
    {
        try
        {
            return await RunAsync(work, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: 1 } inner && inner.Message.Contains("no such table", StringComparison.Ordinal))
        {
            // A store from before pauses existed: nothing was ever paused in it.
            return missing;
        }
    }
}
