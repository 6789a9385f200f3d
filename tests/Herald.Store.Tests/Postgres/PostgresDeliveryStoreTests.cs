using Herald.Postgres;

namespace Herald.Store.Tests.Postgres;

public sealed class PostgresDeliveryStoreTests(PostgresDatabaseFixture database) : DeliveryStoreContractTests, IClassFixture<PostgresDatabaseFixture>
{
    // Real time on the database's clock: long enough that nothing a test does in between outlasts it on a busy machine.
    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(1);

    protected override async Task<IDeliveryStore> CreateStoreAsync()
    {
        var store = await OpenAsync(database.Database);
        await database.TruncateAsync(Ct);
        return store;
    }

    protected override Task<IDeliveryStore> ReopenStoreAsync() => OpenAsync(database.Database);

    protected override Task<IDeliveryStore> OpenPeerAsync() => OpenAsync(database.Database);

    protected override async Task PassAsync(TimeSpan span)
    {
        // Lease times are the database's now(): wait until the database's clock has moved on, with a time limit.
        var until = await NowAsync() + span;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(span + TimeSpan.FromSeconds(30));
        while (await NowAsync() < until)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(25), limit.Token);
        }
    }

    protected override async Task<IReadOnlyList<IDeliveryStore>> OpenMigratingConcurrentlyAsync(int count)
    {
        var fresh = await database.CreateAsync();
        var stores = Enumerable.Range(0, count).Select(_ => (IDeliveryStore)new PostgresDeliveryStore(PostgresServer.Connect(fresh), ownsConnections: true)).ToList();
        await Task.WhenAll(stores.Select(s => Task.Run(() => s.MigrateAsync(Ct), Ct)));
        return stores;
    }

    private async Task<DateTimeOffset> NowAsync() =>
        new(DateTime.SpecifyKind(await PostgresServer.ScalarAsync<DateTime>("SELECT now()", database.Database, Ct), DateTimeKind.Utc));

    private static async Task<IDeliveryStore> OpenAsync(string name)
    {
        var store = new PostgresDeliveryStore(PostgresServer.Connect(name), ownsConnections: true);
        await store.MigrateAsync(Ct);
        return store;
    }

    [Fact]
    public async Task A_large_plan_goes_in_by_binary_copy_in_plan_order()
    {
        await PlanAsync(Store, "big", pending: 30_000, skipped: 100);

        var counts = await Store.GetCountsAsync("big", Ct);
        Assert.Equal((30_000L, 100L), (counts.Pending, counts.Skipped));
        await StartAsync(Store, "big", "w1");
        var first = await Store.ClaimAsync("big", "w1", 3, LongLease, Ct);
        Assert.Equal(["r0", "r1", "r2"], first.Select(i => i.RecipientId));
    }

    [Fact]
    public async Task A_terminated_backend_is_a_transient_error_and_the_store_reconnects()
    {
        await PlanAsync(Store, "c1", pending: 1);
        // Hold a lock so the store's query waits where it can be found, then kill its server process.
        await using var admin = new Npgsql.NpgsqlConnection(PostgresServer.ConnectionStringOf(database.Database));
        await admin.OpenAsync(Ct);
        await using var transaction = await admin.BeginTransactionAsync(Ct);
        await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE recipients IN ACCESS EXCLUSIVE MODE", admin, transaction))
        {
            await lockTable.ExecuteNonQueryAsync(Ct);
        }

        var blocked = Store.GetCountsAsync("c1", Ct);
        var terminated = false;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            limit.CancelAfter(TimeSpan.FromSeconds(30));
            while (!terminated)
            {
                await using var find = new Npgsql.NpgsqlCommand($"""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = '{database.Database}' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
                    """, admin, transaction);
                terminated = await find.ExecuteScalarAsync(limit.Token) is true;
                if (!terminated)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(20), limit.Token);
                }
            }
        }

        var error = await Assert.ThrowsAsync<StoreException>(() => blocked);
        Assert.True(error.IsTransient, error.Message);
        await transaction.RollbackAsync(Ct);

        // The broken connection left the pool with the error: the next call gets a new one.
        Assert.Equal(1, (await Store.GetCountsAsync("c1", Ct)).Pending);
    }

    [Fact]
    public async Task A_permission_error_is_not_transient()
    {
        var role = $"herald_test_ro_{Guid.NewGuid():N}"[..24];
        await PostgresServer.ExecuteAsync($"CREATE ROLE {role} LOGIN PASSWORD 'not-a-secret'", Ct);
        try
        {
            var connectionString = new Npgsql.NpgsqlConnectionStringBuilder(PostgresServer.ConnectionStringOf(database.Database))
            {
                Username = role,
                Password = "not-a-secret",
            }.ConnectionString;
            await using var store = new PostgresDeliveryStore(PostgresConnections.FromConnectionString(connectionString, "test"), ownsConnections: true);

            var error = await Assert.ThrowsAsync<StoreException>(() => store.GetCountsAsync("c1", Ct));

            Assert.False(error.IsTransient);
            Assert.Equal("42501", error.SqlState);
            Assert.IsAssignableFrom<Npgsql.NpgsqlException>(error.InnerException);
        }
        finally
        {
            Npgsql.NpgsqlConnection.ClearAllPools();
            await PostgresServer.ExecuteAsync($"DROP ROLE IF EXISTS {role}", CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_unreachable_server_is_transient_and_a_missing_database_is_not()
    {
        var closedPort = new Npgsql.NpgsqlConnectionStringBuilder(PostgresServer.ConnectionStringOf(database.Database)) { Host = $"127.0.0.1:{FreePort()}", Timeout = 5 }.ConnectionString;
        await using (var down = new PostgresDeliveryStore(PostgresConnections.FromConnectionString(closedPort, "down"), ownsConnections: true))
        {
            var error = await Assert.ThrowsAsync<StoreException>(() => down.GetCountsAsync("c1", Ct));
            Assert.True(error.IsTransient, error.Message);
        }

        await using var missing = new PostgresDeliveryStore(PostgresServer.Connect("herald_test_does_not_exist"), ownsConnections: true);
        var missingError = await Assert.ThrowsAsync<StoreException>(() => missing.MigrateAsync(Ct));
        Assert.False(missingError.IsTransient);
        Assert.Equal("3D000", missingError.SqlState);
    }

    [Fact]
    public async Task A_store_from_a_newer_herald_is_refused_and_not_transient()
    {
        var current = await PostgresServer.ScalarAsync<int>("SELECT version FROM herald_schema", database.Database, Ct);
        await PostgresServer.ExecuteAsync("UPDATE herald_schema SET version = 99", Ct, database.Database);
        try
        {
            var error = await Assert.ThrowsAsync<StoreException>(() => Store.MigrateAsync(Ct));
            Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
            Assert.False(error.IsTransient);
        }
        finally
        {
            await PostgresServer.ExecuteAsync($"UPDATE herald_schema SET version = {current}", CancellationToken.None, database.Database);
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
