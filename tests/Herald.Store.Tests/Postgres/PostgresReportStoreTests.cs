using Herald.Postgres;

namespace Herald.Store.Tests.Postgres;

public sealed class PostgresReportStoreTests(PostgresDatabaseFixture database) : ReportStoreContractTests, IClassFixture<PostgresDatabaseFixture>
{
    protected override Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> CreateStoresAsync() => PostgresReportStores.OpenAsync(database);

    protected override async Task<IBounceStore> OpenBouncesAsync()
    {
        var store = new PostgresBounceStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await store.MigrateAsync(Ct);
        await PostgresServer.ExecuteAsync("TRUNCATE bounce_events", Ct, database.Database);
        return store;
    }

    protected override async Task<IReportStore> OpenWithoutBounceTablesAsync()
    {
        var fresh = await database.CreateAsync();
        await using (var ledger = new PostgresDeliveryStore(PostgresServer.Connect(fresh), ownsConnections: true))
        {
            await ledger.MigrateAsync(Ct);
        }

        var reports = new PostgresReportStore(PostgresServer.Connect(fresh), ownsConnections: true);
        await reports.MigrateAsync(Ct);
        return reports;
    }

    [Fact]
    public async Task Herald_connections_run_without_the_servers_jit_even_after_the_pool_reset_them()
    {
        // The server's JIT cost the overview's counts 348 ms of compilation at 1M recipients. Each connection is taken
        // from the pool and returned (Npgsql resets it with DISCARD ALL before the next use): it stays off.
        await using var connections = PostgresServer.Connect(database.Database);
        for (var use = 0; use < 3; use++)
        {
            var jit = await connections.RunAsync(async connection =>
            {
                await using var command = new Npgsql.NpgsqlCommand("SHOW jit", connection);
                return (string?)await command.ExecuteScalarAsync(Ct);
            }, Ct);
            Assert.Equal("off", jit);
        }
    }

    [Fact]
    public async Task A_long_aggregate_is_cancelled_on_the_server()
    {
        // 600,000 clicks written by SQL; the aggregate over them is stopped well before it would end.
        await PostgresServer.ExecuteAsync("""
            INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
            SELECT gen_random_uuid(), now() + i * interval '1 ms', 2, 'spring', 'r' || (i % 200000), 1 + i % 7, NULL, 'GET', NULL, NULL, 0
            FROM generate_series(1, 600000) AS i
            """, Ct, database.Database);

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cancel.CancelAfter(TimeSpan.FromMilliseconds(30));
        var watch = System.Diagnostics.Stopwatch.StartNew();

        // A date window, so the events are aggregated: the whole campaign would read the rollups, which these SQL
        // inserts did not write (a few rows, done before the token fires).
        var window = new EventWindow("spring", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Reports.FindHeavyClickersAsync(window, int.MaxValue, cancel.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the query should stop at once, took {watch.Elapsed}");
    }
}

public sealed class PostgresCampaignReportBuilderTests(PostgresDatabaseFixture database) : CampaignReportBuilderTests, IClassFixture<PostgresDatabaseFixture>
{
    protected override Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> CreateStoresAsync() => PostgresReportStores.OpenAsync(database);

    protected override ITrackingStore OpenTracking() => new PostgresTrackingStore(PostgresServer.Connect(database.Database), ownsConnections: true);

    protected override Task<IReportStore> OpenReportsAsync() => Task.FromResult<IReportStore>(new PostgresReportStore(PostgresServer.Connect(database.Database), ownsConnections: true));

    protected override Task ExecuteSqlAsync(string sql) => PostgresServer.ExecuteAsync(sql, Ct, database.Database);

    // Schema version 5 had no rollups.
    protected override Task ForgetRollupsAsync() => ExecuteSqlAsync("DROP TABLE rollup_recipients, rollup_clicks, rollup_minutes; UPDATE herald_schema SET version = 5");
}

/// <summary>The three stores over one emptied test database.</summary>
internal static class PostgresReportStores
{
    public static async Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> OpenAsync(PostgresDatabaseFixture database)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = new PostgresDeliveryStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await ledger.MigrateAsync(ct);
        await database.TruncateAsync(ct);
        return (ledger, new PostgresTrackingStore(PostgresServer.Connect(database.Database), ownsConnections: true),
            new PostgresReportStore(PostgresServer.Connect(database.Database), ownsConnections: true));
    }
}
