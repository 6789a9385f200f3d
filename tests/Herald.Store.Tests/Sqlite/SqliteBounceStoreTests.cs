using Herald.Sqlite;
namespace Herald.Store.Tests.Sqlite;

public sealed class SqliteBounceStoreTests : BounceStoreContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-bounces-").FullName;

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override async Task<IBounceStore> CreateStoreAsync()
    {
        // As the store factory opens them: the ledger first, then the tables that read it.
        await using (await SqliteDeliveryStore.OpenAsync(DbPath, TestContext.Current.CancellationToken))
        {
        }

        var store = new SqliteBounceStore(DbPath);
        await store.MigrateAsync(TestContext.Current.CancellationToken);
        return store;
    }

    protected override async Task<IDeliveryStore> OpenLedgerAsync() =>
        await SqliteDeliveryStore.OpenAsync(DbPath, TestContext.Current.CancellationToken);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_store_without_a_ledger_finds_no_recipient()
    {
        var ct = TestContext.Current.CancellationToken;
        var path = Path.Combine(_dir, "bounces-only.db");
        await using var store = new SqliteBounceStore(path);
        await store.MigrateAsync(ct);

        Assert.Null(await store.FindByRowAsync(1, ct));
        Assert.Null(await store.FindByMessageIdAsync("x@y", ct));
        Assert.Null(await store.FindByEmailAsync("a@example.com", null, ct));
        await foreach (var _ in store.ReadSyncFailuresAsync("c", ct))
        {
            Assert.Fail("no ledger, no failures");
        }
    }

    [Fact]
    public async Task Message_id_lookups_use_an_index()
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN SELECT id FROM recipients WHERE message_id IN ('a', '<a>');";
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        Assert.True(await reader.ReadAsync(TestContext.Current.CancellationToken));
        Assert.Contains("ix_recipients_message_id", reader.GetString(3), StringComparison.Ordinal);
    }
}
