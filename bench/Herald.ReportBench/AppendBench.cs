using System.Diagnostics;
using System.Globalization;
using Herald.Postgres;
using Herald.Sqlite;
using Herald.Store;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ReportBench;

/// <summary>
/// The write path's cost of the report rollups: events appended in batches through the tracking store (as the serve
/// journal's pipeline appends them) into a fresh store, with the rollups kept and without them, in one run. Without
/// them is the store as it was before (PostgreSQL: the schema-4 insert alone; SQLite: no longer separable, its store
/// writes the rollups of each batch it appends).
/// </summary>
internal static class AppendBench
{
    public static async Task RunAsync(string db, int events, int batch, int recipients)
    {
        var random = new Random(7);
        var start = DateTimeOffset.UtcNow;
        var all = new List<TrackingEvent>(events);
        for (var i = 0; i < events; i++)
        {
            var r = $"r{random.Next(recipients):D7}";
            var open = random.Next(3) < 2;
            var at = start.AddMilliseconds(i);
            all.Add(open
                ? new TrackingEvent(Guid.CreateVersion7(at), at, TrackingEventKind.Open, "append", r, 0, null, "GET", "Mozilla/5.0", "203.0.113.0/24", random.Next(3) == 0 ? EventFlags.AppleMpp : EventFlags.None)
                : new TrackingEvent(Guid.CreateVersion7(at), at, TrackingEventKind.Click, "append", r, 1 + random.Next(20), $"https://shop.example.com/item-{random.Next(200)}", "GET", "Mozilla/5.0", "203.0.113.0/24", EventFlags.None));
        }

        // SQLite writes the rollups of its own appends in the append itself (tracking schema 3): there is no store
        // without them to compare with any more, only the trigger other writers go through. Both runs keep them.
        foreach (var rollups in IsPostgres(db) ? (bool[])[false, true, false, true] : [true, true])
        {
            await using var store = await OpenFreshAsync(db, rollups, recipients);
            var clock = Stopwatch.StartNew();
            var added = 0;
            for (var i = 0; i < all.Count; i += batch)
            {
                added += await store.AppendAsync(all.GetRange(i, Math.Min(batch, all.Count - i)));
            }

            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"append {(IsPostgres(db) ? "postgresql" : "sqlite")} rollups={(rollups ? "kept" : "none")} batch={batch} events={added} seconds={seconds:F2} rate={added / seconds:F0}/s per_batch_ms={seconds * 1000 / Math.Ceiling((double)all.Count / batch):F2}"));
        }
    }

    private static bool IsPostgres(string db) => db.StartsWith("postgres", StringComparison.Ordinal);

    private static async Task<Target> OpenFreshAsync(string db, bool rollups, int recipients)
    {
        if (IsPostgres(db))
        {
            var connections = PostgresConnections.Open(PostgresAddress.Parse(db));
            var tracking = new PostgresTrackingStore(connections, ownsConnections: true);
            await tracking.MigrateAsync(CancellationToken.None);
            await using (var connection = await connections.DataSource.OpenConnectionAsync())
            {
                await using (var truncate = new NpgsqlCommand("TRUNCATE tracking_events, rollup_recipients, rollup_clicks, rollup_minutes", connection))
                {
                    await truncate.ExecuteNonQueryAsync();
                }

                // Every recipient sent in the ledger, as a tracking server finds them: each new rollup recipient's delivery
                // time is looked up there (schema version 7).
                await using (var ledger = new NpgsqlCommand(string.Create(CultureInfo.InvariantCulture, $"""
                    DELETE FROM recipients WHERE campaign = 'append';
                    INSERT INTO recipients (campaign, recipient_id, email, state, message_id, created_at, updated_at)
                    SELECT 'append', 'r' || lpad(i::text, 7, '0'), 'r' || i || '@example.com', 2, '<' || i || '@bench>', now(), now()
                    FROM generate_series(0, {recipients - 1}) AS i;
                    ANALYZE recipients;
                    """), connection))
                {
                    await ledger.ExecuteNonQueryAsync();
                }
            }

            return new Target(tracking, rollups ? null : connections);
        }

        foreach (var suffix in (string[])["", "-wal", "-shm"])
        {
            File.Delete(db + suffix);
        }

        // The ledger first, as a store of herald's has it, with every recipient sent (see the PostgreSQL branch).
        await using (var ledger = await SqliteDeliveryStore.OpenAsync(db, CancellationToken.None))
        await using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = string.Create(CultureInfo.InvariantCulture, $"""
                WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < {recipients - 1})
                INSERT INTO recipients (campaign, recipient_id, email, state, message_id, created_at, updated_at)
                SELECT 'append', printf('r%07d', n), 'r' || n || '@example.com', 2, '<' || n || '@bench>', 0, 0 FROM i;
                """);
            await command.ExecuteNonQueryAsync();
        }

        var store = new SqliteTrackingStore(db);
        await store.MigrateAsync(CancellationToken.None);
        var reports = new SqliteReportStore(db);
        await using (reports.ConfigureAwait(false))
        {
            // The report indexes are on the write path too.
            await reports.MigrateAsync(CancellationToken.None);
        }

        return new Target(store, null);
    }

    /// <summary>The tracking store, or (PostgreSQL without rollups) the insert of schema version 4 on its connections.</summary>
    private sealed class Target(ITrackingStore store, PostgresConnections? plain) : IAsyncDisposable
    {
        public async Task<int> AppendAsync(List<TrackingEvent> events)
        {
            if (plain is null)
            {
                return await store.AppendEventsAsync(events, CancellationToken.None);
            }

            await using var connection = await plain.DataSource.OpenConnectionAsync();
            await using var insert = new NpgsqlCommand("""
                INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
                SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (id) DO NOTHING
                """, connection);
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.Id).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.At.ToUniversalTime()).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => (short)e.Kind).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Smallint });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.CampaignId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.RecipientId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.LinkNumber).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.Target).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.Method).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.UserAgent).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => e.ClientNetwork).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            insert.Parameters.Add(new NpgsqlParameter { Value = events.Select(e => (int)e.Flags).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            return await insert.ExecuteNonQueryAsync();
        }

        public async ValueTask DisposeAsync()
        {
            await store.DisposeAsync();
            if (plain is not null)
            {
                await plain.DisposeAsync();
            }
        }
    }
}
