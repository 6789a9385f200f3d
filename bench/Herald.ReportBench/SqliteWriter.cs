using Herald.Sqlite;
using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.ReportBench;

/// <summary>Writes the benchmark store into SQLite: the stores create their schema, the rows go in by prepared statements in one transaction each, the report indexes are built last.</summary>
internal static class SqliteWriter
{
    public static async Task WriteAsync(string path, BenchData data)
    {
        foreach (var suffix in (string[])["", "-wal", "-shm"])
        {
            File.Delete(path + suffix);
        }

        await using (await SqliteDeliveryStore.OpenAsync(path, CancellationToken.None))
        {
        }

        await using (var tracking = new SqliteTrackingStore(path))
        {
            await tracking.MigrateAsync(CancellationToken.None);
        }

        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync();
            Execute(connection, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;");
            // The report indexes come after the rows: building an index once is faster than growing it row by row.
            Execute(connection, "DROP INDEX IF EXISTS tracking_events_by_kind_recipient; DROP INDEX IF EXISTS tracking_events_by_kind_time;");
            WriteLedger(connection, data);
            // Through the trigger that keeps the report rollups, as the tracking server's appends are.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            WriteEvents(connection, data);
            Console.WriteLine(FormattableString.Invariant($"events and their rollups written in {clock.Elapsed.TotalSeconds:F1} s"));
        }

        await using var reports = new SqliteReportStore(path);
        await reports.MigrateAsync(CancellationToken.None);
        await reports.SaveLinksAsync(data.Campaign, BenchData.Catalogue(), CancellationToken.None);
    }

    private static void WriteLedger(SqliteConnection connection, BenchData data)
    {
        using var transaction = connection.BeginTransaction();
        using (var plan = connection.CreateCommand())
        {
            plan.CommandText = "INSERT INTO plans (campaign, fingerprint, created_at, row_count) VALUES ($c, 'bench', $at, $n);";
            plan.Parameters.AddWithValue("$c", data.Campaign);
            plan.Parameters.AddWithValue("$at", BenchData.SendStart.AddMinutes(-10).ToUnixTimeMilliseconds());
            plan.Parameters.AddWithValue("$n", data.Recipients.Length);
            plan.ExecuteNonQuery();
        }

        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO recipients (campaign, recipient_id, email, state, skip_reason, attempts, smtp_code, smtp_text, relay, message_id, created_at, updated_at)
            VALUES ($c, $r, $e, $s, $skip, $a, $code, $text, 'relay-1', $m, $created, $updated);
            """;
        insert.Parameters.AddWithValue("$c", data.Campaign);
        var p = new[] { "$r", "$e", "$s", "$skip", "$a", "$code", "$text", "$m", "$created", "$updated" }.Select(n => insert.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
        insert.Prepare();
        var created = BenchData.SendStart.AddMinutes(-10).ToUnixTimeMilliseconds();
        for (var i = 0; i < data.Recipients.Length; i++)
        {
            var r = data.Recipients[i];
            p[0].Value = r.Id;
            p[1].Value = BenchData.Email(i);
            p[2].Value = (int)r.State;
            p[3].Value = (object?)r.SkipReason ?? DBNull.Value;
            p[4].Value = r.State == DeliveryState.Skipped ? 0 : 1;
            p[5].Value = (object?)r.SmtpCode ?? DBNull.Value;
            p[6].Value = (object?)r.SmtpText ?? DBNull.Value;
            p[7].Value = $"<{r.Id}@shop.example.com>";
            p[8].Value = created;
            p[9].Value = r.UpdatedAtMs;
            insert.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    private static void WriteEvents(SqliteConnection connection, BenchData data)
    {
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
            VALUES ($id, $at, $kind, $c, $r, $link, $target, $method, $ua, '203.0.113.0/24', $flags);
            """;
        insert.Parameters.AddWithValue("$c", data.Campaign);
        var p = new[] { "$id", "$at", "$kind", "$r", "$link", "$target", "$method", "$ua", "$flags" }.Select(n => insert.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
        insert.Prepare();
        foreach (var e in data.Events)
        {
            var at = new DateTimeOffset(e.AtTicks, TimeSpan.Zero);
            p[0].Value = Guid.CreateVersion7(at).ToByteArray(bigEndian: true);
            p[1].Value = e.AtTicks;
            p[2].Value = (int)e.Kind;
            p[3].Value = data.Recipients[e.Recipient].Id;
            p[4].Value = (int)e.Link;
            p[5].Value = e.Kind == TrackingEventKind.Click ? BenchData.Target(e.Link, e.Target) : DBNull.Value;
            p[6].Value = e.Kind == TrackingEventKind.Unsubscribe ? "POST" : (e.Flags & EventFlags.Head) != 0 ? "HEAD" : "GET";
            p[7].Value = UserAgent(e);
            p[8].Value = (int)e.Flags;
            insert.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    internal static string UserAgent(BenchEvent e) =>
        (e.Flags & EventFlags.AppleMpp) != 0 ? "Mozilla/5.0"
        : (e.Flags & EventFlags.Scanner) != 0 ? "Mozilla/5.0 (compatible; Barracuda Sentinel)"
        : "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
