using System.Diagnostics;
using Herald.Sqlite;
using Microsoft.Data.Sqlite;

namespace Herald.Store.Tests.Sqlite;

public sealed class SqliteReportStoreTests : ReportStoreContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-report-store-").FullName;

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override async Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> CreateStoresAsync()
    {
        var ledger = await SqliteDeliveryStore.OpenAsync(DbPath, Ct);
        var tracking = new SqliteTrackingStore(DbPath);
        await tracking.MigrateAsync(Ct);
        var reports = new SqliteReportStore(DbPath);
        await reports.MigrateAsync(Ct);
        return (ledger, tracking, reports);
    }

    protected override async Task<IBounceStore> OpenBouncesAsync()
    {
        var store = new SqliteBounceStore(DbPath);
        await store.MigrateAsync(Ct);
        return store;
    }

    protected override async Task<IReportStore> OpenWithoutBounceTablesAsync()
    {
        var path = Path.Combine(_dir, "without-bounces.db");
        await using (var ledger = await SqliteDeliveryStore.OpenAsync(path, Ct))
        {
            var tracking = new SqliteTrackingStore(path);
            await tracking.MigrateAsync(Ct);
            await tracking.DisposeAsync();
        }

        var reports = new SqliteReportStore(path);
        await reports.MigrateAsync(Ct);
        return reports;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Report_queries_read_the_covering_indexes_in_order()
    {
        await using var connection = new SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            EXPLAIN QUERY PLAN SELECT recipient, COUNT(*) FROM tracking_events WHERE kind = 1 AND campaign = 'c' AND +at >= 0 AND +at < 9
            GROUP BY recipient ORDER BY recipient;
            """;
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Contains(plan, p => p.Contains("COVERING INDEX tracking_events_by_kind_recipient", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, p => p.Contains("TEMP B-TREE", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_long_aggregate_is_interrupted_when_its_token_fires()
    {
        // 600,000 clicks written straight by SQL: scanning them takes far longer than the 30 ms before cancellation.
        await using (var connection = new SqliteConnection($"Data Source={DbPath}"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600000)
                INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
                SELECT randomblob(16), i, 2, 'spring', printf('r%07d', i % 200000), 1 + i % 7, NULL, 'GET', NULL, NULL, 0 FROM n;
                """;
            await command.ExecuteNonQueryAsync(Ct);
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(30));
        var watch = Stopwatch.StartNew();

        // Without sqlite3_interrupt the provider would only see the token after the scan, and return the (empty) result.
        // A window holding every event, so the events are aggregated, not the rollup rows the trigger wrote.
        var window = new EventWindow("spring", DateTimeOffset.MinValue, DateTimeOffset.MaxValue);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Reports.FindHeavyClickersAsync(window, int.MaxValue, cancel.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the query should stop at once, took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_locked_store_is_waited_for_and_the_wait_ends_with_the_token()
    {
        // A rollback-journal database (WAL would let readers in) under another process's exclusive write lock.
        var path = Path.Combine(_dir, "locked.db");
        await using var holder = new SqliteConnection($"Data Source={path};Pooling=False");
        await holder.OpenAsync(Ct);
        await using (var lockIt = holder.CreateCommand())
        {
            lockIt.CommandText = """
                CREATE TABLE report_links (campaign TEXT NOT NULL, link INTEGER NOT NULL, label TEXT NOT NULL, static_target TEXT, PRIMARY KEY (campaign, link));
                BEGIN EXCLUSIVE; INSERT INTO report_links VALUES ('x', 1, 'x', NULL);
                """;
            await lockIt.ExecuteNonQueryAsync(Ct);
        }

        await using var reports = new SqliteReportStore(path);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var query = reports.GetLinksAsync("spring", cancel.Token);
        await Task.Delay(TimeSpan.FromMilliseconds(400), Ct);
        Assert.False(query.IsCompleted, "the query must wait for the lock, not fail at once: " + (query.IsFaulted ? query.Exception!.InnerException!.Message : "completed"));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => query.WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }
}
