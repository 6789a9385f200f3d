using Herald.Sqlite;
using Microsoft.Data.Sqlite;

namespace Herald.Store.Tests.Sqlite;

public sealed class SqliteCampaignStateStoreTests : CampaignStateStoreContractTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-state-").FullName;

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override async Task<ICampaignStateStore> CreateStoreAsync()
    {
        var store = new SqliteCampaignStateStore(DbPath);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        return store;
    }

    [Fact]
    public async Task A_store_from_before_pauses_existed_reads_as_not_paused_without_creating_tables()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var ledger = await SqliteDeliveryStore.OpenAsync(DbPath, ct))
        {
        }

        await using var state = new SqliteCampaignStateStore(DbPath);

        Assert.Null(await state.GetPauseAsync("c1", ct));
        Assert.Empty(await state.GetRelayHealthAsync("c1", ct));
        using var connection = new SqliteConnection($"Data Source={DbPath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'campaign_pauses'";
        Assert.Equal(0L, (long)command.ExecuteScalar()!);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
