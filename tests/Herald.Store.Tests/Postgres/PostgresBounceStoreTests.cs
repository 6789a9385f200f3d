using Herald.Postgres;

namespace Herald.Store.Tests.Postgres;

public sealed class PostgresBounceStoreTests(PostgresDatabaseFixture database) : BounceStoreContractTests, IClassFixture<PostgresDatabaseFixture>
{
    protected override async Task<IBounceStore> CreateStoreAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new PostgresBounceStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await store.MigrateAsync(ct);
        await database.TruncateAsync(ct);
        await PostgresServer.ExecuteAsync("TRUNCATE bounce_events, bounce_campaigns, bounce_settings", ct, database.Database);
        return store;
    }

    protected override Task<IDeliveryStore> OpenLedgerAsync() =>
        Task.FromResult<IDeliveryStore>(new PostgresDeliveryStore(PostgresServer.Connect(database.Database), ownsConnections: true));

    [Fact]
    public async Task Several_processes_migrating_at_once_create_the_tables_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var fresh = await database.CreateAsync();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            await using var store = new PostgresBounceStore(PostgresServer.Connect(fresh), ownsConnections: true);
            await store.MigrateAsync(ct);
        }));

        Assert.Equal(1, await PostgresServer.ScalarAsync<int>("SELECT MAX(version) FROM bounce_schema", fresh, ct));
        Assert.Equal(1L, await PostgresServer.ScalarAsync<long>("SELECT COUNT(*) FROM bounce_schema", fresh, ct));
    }
}
