using Herald.Postgres;

namespace Herald.Store.Tests.Postgres;

public sealed class PostgresTrackingStoreTests(PostgresDatabaseFixture database) : TrackingStoreContractTests, IClassFixture<PostgresDatabaseFixture>
{
    protected override async Task<ITrackingStore> CreateStoreAsync()
    {
        var store = new PostgresTrackingStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        await database.TruncateAsync(TestContext.Current.CancellationToken);
        return store;
    }

    protected override async Task SeedLedgerAsync(string campaignId, string recipientId, string email)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var ledger = new PostgresDeliveryStore(PostgresServer.Connect(database.Database), ownsConnections: true);
        await using var writer = await ledger.BeginPlanAsync(campaignId, "f1", ct);
        await writer.AddAsync([new PlanEntry(recipientId, email, "{}"u8.ToArray(), null, $"<{recipientId}@test>")], ct);
        await writer.CommitAsync(ct);
    }
}
