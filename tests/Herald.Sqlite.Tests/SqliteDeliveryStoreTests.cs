using Herald.Core.Tests.Store;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Sqlite.Tests;

public sealed class SqliteDeliveryStoreTests : DeliveryStoreContractTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-store-").FullName;

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override async Task<IDeliveryStore> CreateStoreAsync() =>
        await SqliteDeliveryStore.OpenAsync(DbPath, TestContext.Current.CancellationToken, Clock);

    protected override Task<IDeliveryStore> ReopenStoreAsync() => CreateStoreAsync();

    [Fact]
    public async Task A_second_sender_on_the_same_campaign_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var first = await SqliteDeliveryStore.OpenAsync(DbPath, ct, Clock);
        await PlanAsync(first, "c1", 1);
        await first.RecoverAsync("c1", "w1", ct);

        await using var second = await SqliteDeliveryStore.OpenAsync(DbPath, ct, Clock);
        var error = await Assert.ThrowsAsync<StoreException>(() => second.RecoverAsync("c1", "w2", ct));
        Assert.Contains("already sending", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
