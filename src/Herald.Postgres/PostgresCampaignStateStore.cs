using Npgsql;
using NpgsqlTypes;
using static Herald.Postgres.Parameters;

namespace Herald.Postgres;

/// <summary>
/// Campaign pauses and relay health on PostgreSQL, beside the ledger: what every sender of a campaign and
/// <c>herald status</c> on any machine see. Written on changes only.
/// </summary>
public sealed class PostgresCampaignStateStore : PostgresStore, ICampaignStateStore
{
    public PostgresCampaignStateStore(PostgresConnections connections, bool ownsConnections)
        : base(connections, ownsConnections)
    {
    }

    public Task PauseAsync(string campaignId, CampaignPause pause, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pause);
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand("""
                INSERT INTO campaign_pauses (campaign, reason, since, worker) VALUES ($1, $2, $3, $4)
                ON CONFLICT (campaign) DO UPDATE SET reason = excluded.reason, since = excluded.since, worker = excluded.worker
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            command.Parameters.Add(new NpgsqlParameter { Value = pause.Reason });
            command.Parameters.Add(new NpgsqlParameter { Value = pause.Since.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)pause.WorkerId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<CampaignPause?> ResumeAsync(string campaignId, CancellationToken cancellationToken) =>
        ReadPauseAsync("DELETE FROM campaign_pauses WHERE campaign = $1 RETURNING reason, since, worker", campaignId, cancellationToken);

    public Task<CampaignPause?> GetPauseAsync(string campaignId, CancellationToken cancellationToken) =>
        OrWhenMissingAsync(ReadPauseAsync("SELECT reason, since, worker FROM campaign_pauses WHERE campaign = $1", campaignId, cancellationToken), null);

    public Task SaveRelayHealthAsync(string campaignId, IReadOnlyList<RelayHealth> relays, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(relays);
        if (relays.Count == 0)
        {
            return Task.CompletedTask;
        }

        return Connections.RunAsync(async connection =>
        {
            // One array statement; the last row per name wins, as the contract says.
            var latest = relays.GroupBy(r => r.Name, StringComparer.Ordinal).Select(g => g.Last()).ToArray();
            await using var command = new NpgsqlCommand("""
                INSERT INTO relay_health (campaign, name, state, last_reply, last_error, since)
                SELECT $1, h.name, h.state, h.reply, h.error, h.since FROM unnest($2, $3, $4, $5, $6) AS h(name, state, reply, error, since)
                ON CONFLICT (campaign, name) DO UPDATE SET state = excluded.state, last_reply = excluded.last_reply,
                    last_error = excluded.last_error, since = excluded.since
                """, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            command.Parameters.Add(Array(latest.Select(r => r.Name).ToArray(), NpgsqlDbType.Text));
            command.Parameters.Add(Array(latest.Select(r => r.State.ToName()).ToArray(), NpgsqlDbType.Text));
            command.Parameters.Add(Array(latest.Select(r => r.LastReply).ToArray(), NpgsqlDbType.Text));
            command.Parameters.Add(Array(latest.Select(r => r.LastError).ToArray(), NpgsqlDbType.Text));
            command.Parameters.Add(Array(latest.Select(r => r.Since.ToUniversalTime()).ToArray(), NpgsqlDbType.TimestampTz));
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    public Task<IReadOnlyList<RelayHealth>> GetRelayHealthAsync(string campaignId, CancellationToken cancellationToken)
    {
        return OrWhenMissingAsync<IReadOnlyList<RelayHealth>>(Connections.RunAsync<IReadOnlyList<RelayHealth>>(async connection =>
        {
            await using var command = new NpgsqlCommand(
                "SELECT name, state, last_reply, last_error, since FROM relay_health WHERE campaign = $1 ORDER BY name COLLATE \"C\"", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            var result = new List<RelayHealth>();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new RelayHealth(
                    reader.GetString(0),
                    RelayHealthStates.Parse(reader.GetString(1)),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetFieldValue<DateTimeOffset>(4)));
            }

            return result;
        }, cancellationToken), []);
    }

    /// <summary>A reader (status) of a store from before these tables existed sees no pause and no health, not an error.</summary>
    private static async Task<T> OrWhenMissingAsync<T>(Task<T> read, T missing)
    {
        try
        {
            return await read.ConfigureAwait(false);
        }
        catch (StoreException ex) when (ex.SqlState == "42P01")
        {
            return missing;
        }
    }


    private Task<CampaignPause?> ReadPauseAsync(string sql, string campaignId, CancellationToken cancellationToken)
    {
        return Connections.RunAsync(async connection =>
        {
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = campaignId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                ? new CampaignPause(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.IsDBNull(2) ? null : reader.GetString(2))
                : null;
        }, cancellationToken);
    }
}
