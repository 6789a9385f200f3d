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

    [Fact]
    public async Task A_store_from_before_pauses_existed_reads_as_not_paused()
    {
        var ct = TestContext.Current.CancellationToken;
        var old = await database.CreateAsync();
        await using (var store = new PostgresCampaignStateStore(PostgresServer.Connect(old), ownsConnections: true))
        {
            await store.MigrateAsync(ct);
        }

        // As the schema version before them (2) left it: no tables for the campaign state (nor the later report tables).
        await PostgresServer.ExecuteAsync("DROP TABLE campaign_pauses, relay_health, report_links; UPDATE herald_schema SET version = 2", ct, old);
        await using var reader = new PostgresCampaignStateStore(PostgresServer.Connect(old), ownsConnections: true);

        Assert.Null(await reader.GetPauseAsync("c1", ct));
        Assert.Empty(await reader.GetRelayHealthAsync("c1", ct));
        await reader.MigrateAsync(ct);
        await reader.PauseAsync("c1", new CampaignPause("after the upgrade", DateTimeOffset.UtcNow, null), ct);
        Assert.Equal("after the upgrade", (await reader.GetPauseAsync("c1", ct))?.Reason);
    }
}
