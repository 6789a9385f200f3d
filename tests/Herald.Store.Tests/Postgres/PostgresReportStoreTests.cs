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

    [Fact]
    public async Task Rollup_recipients_keep_their_delivery_time_from_the_first_event_and_from_the_upgrade_to_version_7()
    {
        await SeedVariedAsync();
        var before = await BuildBothAsync();
        // Every rollup recipient but the one outside the ledger has its sent row's time.
        Assert.Equal((1L, 0L), await DeliveryTimesAsync());
        var full = new EventWindow("spring");
        Assert.True(await Reports.PrefersEngagedDeliveriesAsync(full, Ct));
        Assert.False(await Reports.PrefersEngagedDeliveriesAsync(new EventWindow("spring", DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue), Ct));

        // A store at version 6 (rollups, no delivery times): a tracking server started on it appends without them,
        // a report reads the sent rows into a map; after the upgrade (the backfill) the kept times again, and the same
        // report each time.
        await ExecuteSqlAsync("ALTER TABLE rollup_recipients DROP COLUMN delivered_at; UPDATE herald_schema SET version = 6");
        await using (var server = OpenTracking())
        {
            Assert.Equal(1, await server.AppendEventsAsync(
                [new TrackingEvent(Guid.CreateVersion7(), DateTimeOffset.UtcNow, TrackingEventKind.Open, "spring", "r40", 0, null, "GET", "Mozilla/5.0 (X11)", "203.0.113.0/24", EventFlags.None)], Ct));
        }

        var old = await BuildBothAsync(fresh: true);
        Assert.False(await Reports.PrefersEngagedDeliveriesAsync(full, Ct));
        await UpgradeAsync();
        var upgraded = await BuildBothAsync(fresh: true);

        Assert.True(await Reports.PrefersEngagedDeliveriesAsync(full, Ct));
        // r40 failed: no delivery time either.
        Assert.Equal((2L, 0L), await DeliveryTimesAsync());
        Assert.Equal(ToJson(before.Scan), ToJson(before.Full));
        Assert.Equal(ToJson(old.Scan), ToJson(old.Full));
        Assert.Equal(ToJson(old.Full), ToJson(upgraded.Full));
        Assert.Equal(before.Full.Raw.Opens + 1, old.Full.Raw.Opens);
    }

    /// <summary>Rollup recipients without a kept delivery time, and those whose kept time is not their first sent row's.</summary>
    private async Task<(long Missing, long Wrong)> DeliveryTimesAsync()
    {
        var missing = await PostgresServer.ScalarAsync<long>("SELECT count(*) FROM rollup_recipients WHERE delivered_at IS NULL", database.Database, Ct);
        var wrong = await PostgresServer.ScalarAsync<long>("""
            SELECT count(*) FROM rollup_recipients r
            WHERE delivered_at IS DISTINCT FROM (SELECT l.updated_at FROM recipients l
                WHERE l.campaign = r.campaign AND l.recipient_id = r.recipient COLLATE "default" AND l.state = 2 ORDER BY l.id LIMIT 1)
              AND delivered_at IS NOT NULL
            """, database.Database, Ct);
        return (missing, wrong);
    }
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
