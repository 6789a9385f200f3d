using Herald.Postgres;

namespace Herald.Store.Tests.Postgres;

public sealed class PostgresCampaignStateStoreTests(PostgresDatabaseFixture database) : CampaignStateStoreContractTests, IClassFixture<PostgresDatabaseFixture>, IAsyncLifetime
{
    public async ValueTask InitializeAsync()
    {
        await using var store = new PostgresCampaignStateStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        await database.TruncateAsync(TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    protected override async Task<ICampaignStateStore> CreateStoreAsync()
    {
        // Each call is another pool, as another process would open.
        var store = new PostgresCampaignStateStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        return store;
    }
}
