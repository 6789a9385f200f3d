using Herald.Core.Tests.Store;
using Herald.Store;

namespace Herald.Sqlite.Tests;

public sealed class SqliteTrackingStoreTests : TrackingStoreContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-tracking-").FullName;

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override async Task<ITrackingStore> CreateStoreAsync()
    {
        var store = new SqliteTrackingStore(DbPath);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        return store;
    }

    protected override async Task SeedLedgerAsync(string campaignId, string recipientId, string email)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var ledger = await SqliteDeliveryStore.OpenAsync(DbPath, ct);
        await using var writer = await ledger.BeginPlanAsync(campaignId, "f1", ct);
        await writer.AddAsync([new PlanEntry(recipientId, email, "{}"u8.ToArray(), null, $"<{recipientId}@test>")], ct);
        await writer.CommitAsync(ct);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Database_uses_wal_journal()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";

        Assert.Equal("wal", await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }
}
