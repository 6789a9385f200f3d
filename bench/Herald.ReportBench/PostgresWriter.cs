using Herald.Postgres;
using Herald.Store;
using Npgsql;
using NpgsqlTypes;

namespace Herald.ReportBench;

/// <summary>Writes the benchmark store into PostgreSQL: the stores create the schema, the rows go in by binary COPY, then VACUUM ANALYZE (what autovacuum does after a load).</summary>
internal static class PostgresWriter
{
    public static async Task WriteAsync(PostgresAddress address, BenchData data)
    {
        await using var connections = PostgresConnections.Open(address);
        await using (var ledger = new PostgresDeliveryStore(connections, ownsConnections: false))
        {
            await ledger.MigrateAsync(CancellationToken.None);
        }

        await using (var connection = await connections.DataSource.OpenConnectionAsync())
        {
            await ExecuteAsync(connection, "TRUNCATE recipients, plans, workers, tracking_events, report_links, rollup_recipients, rollup_clicks, rollup_minutes RESTART IDENTITY");
            // The report indexes come after the rows: building an index once is faster than growing it row by row.
            await ExecuteAsync(connection, "DROP INDEX IF EXISTS tracking_events_by_kind_recipient; DROP INDEX IF EXISTS tracking_events_by_kind_time");
            await ExecuteAsync(connection, $"INSERT INTO plans VALUES ('{data.Campaign}', 'bench', '{BenchData.SendStart.AddMinutes(-10):O}', {data.Recipients.Length})");
            await WriteLedgerAsync(connection, data);
            await WriteEventsAsync(connection, data);
            await ExecuteAsync(connection, """
                SET maintenance_work_mem = '512MB';
                CREATE INDEX tracking_events_by_kind_recipient ON tracking_events (campaign, kind, recipient COLLATE "C", at) INCLUDE (link, flags, target);
                CREATE INDEX tracking_events_by_kind_time ON tracking_events (campaign, kind, at) INCLUDE (flags);
                """);
            // VACUUM runs alone: not in a transaction, not in a multi-statement command.
            await ExecuteAsync(connection, "VACUUM ANALYZE recipients");
            await ExecuteAsync(connection, "VACUUM ANALYZE tracking_events");
        }

        // COPY goes around the store's append, so the report rollups are filled by the backfill an upgrade runs.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var tracking = new PostgresTrackingStore(connections, ownsConnections: false))
        {
            await tracking.RebuildRollupsAsync(CancellationToken.None);
        }

        Console.WriteLine(FormattableString.Invariant($"rollups backfilled from the events in {clock.Elapsed.TotalSeconds:F1} s"));
        await using (var connection = await connections.DataSource.OpenConnectionAsync())
        {
            await ExecuteAsync(connection, "VACUUM ANALYZE rollup_recipients");
            await ExecuteAsync(connection, "VACUUM ANALYZE rollup_clicks");
            await ExecuteAsync(connection, "VACUUM ANALYZE rollup_minutes");
        }

        await using var reports = new PostgresReportStore(connections, ownsConnections: false);
        await reports.SaveLinksAsync(data.Campaign, BenchData.Catalogue(), CancellationToken.None);
    }

    private static async Task WriteLedgerAsync(NpgsqlConnection connection, BenchData data)
    {
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY recipients (campaign, recipient_id, email, state, skip_reason, attempts, smtp_code, smtp_text, relay, message_id, created_at, updated_at) FROM STDIN (FORMAT BINARY)");
        var created = BenchData.SendStart.AddMinutes(-10);
        for (var i = 0; i < data.Recipients.Length; i++)
        {
            var r = data.Recipients[i];
            await copy.StartRowAsync();
            await copy.WriteAsync(data.Campaign, NpgsqlDbType.Text);
            await copy.WriteAsync(r.Id, NpgsqlDbType.Text);
            await copy.WriteAsync(BenchData.Email(i), NpgsqlDbType.Text);
            await copy.WriteAsync((short)r.State, NpgsqlDbType.Smallint);
            await WriteNullableAsync(copy, r.SkipReason, NpgsqlDbType.Text);
            await copy.WriteAsync(r.State == DeliveryState.Skipped ? 0 : 1, NpgsqlDbType.Integer);
            if (r.SmtpCode is { } code)
            {
                await copy.WriteAsync(code, NpgsqlDbType.Integer);
            }
            else
            {
                await copy.WriteNullAsync();
            }

            await WriteNullableAsync(copy, r.SmtpText, NpgsqlDbType.Text);
            await copy.WriteAsync("relay-1", NpgsqlDbType.Text);
            await copy.WriteAsync($"<{r.Id}@shop.example.com>", NpgsqlDbType.Text);
            await copy.WriteAsync(created, NpgsqlDbType.TimestampTz);
            await copy.WriteAsync(DateTimeOffset.FromUnixTimeMilliseconds(r.UpdatedAtMs), NpgsqlDbType.TimestampTz);
        }

        await copy.CompleteAsync();
    }

    private static async Task WriteEventsAsync(NpgsqlConnection connection, BenchData data)
    {
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags) FROM STDIN (FORMAT BINARY)");
        foreach (var e in data.Events)
        {
            var at = new DateTimeOffset(e.AtTicks, TimeSpan.Zero);
            await copy.StartRowAsync();
            await copy.WriteAsync(Guid.CreateVersion7(at), NpgsqlDbType.Uuid);
            await copy.WriteAsync(at, NpgsqlDbType.TimestampTz);
            await copy.WriteAsync((short)e.Kind, NpgsqlDbType.Smallint);
            await copy.WriteAsync(data.Campaign, NpgsqlDbType.Text);
            await copy.WriteAsync(data.Recipients[e.Recipient].Id, NpgsqlDbType.Text);
            await copy.WriteAsync((int)e.Link, NpgsqlDbType.Integer);
            await WriteNullableAsync(copy, e.Kind == TrackingEventKind.Click ? BenchData.Target(e.Link, e.Target) : null, NpgsqlDbType.Text);
            await copy.WriteAsync(e.Kind == TrackingEventKind.Unsubscribe ? "POST" : (e.Flags & EventFlags.Head) != 0 ? "HEAD" : "GET", NpgsqlDbType.Text);
            await copy.WriteAsync(SqliteWriter.UserAgent(e), NpgsqlDbType.Text);
            await copy.WriteAsync("203.0.113.0/24", NpgsqlDbType.Text);
            await copy.WriteAsync((int)e.Flags, NpgsqlDbType.Integer);
        }

        await copy.CompleteAsync();
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter copy, string? value, NpgsqlDbType type)
    {
        if (value is null)
        {
            await copy.WriteNullAsync();
        }
        else
        {
            await copy.WriteAsync(value, type);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }
}
