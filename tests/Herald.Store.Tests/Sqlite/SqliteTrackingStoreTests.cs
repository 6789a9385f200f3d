using Herald.Sqlite;
using Microsoft.Data.Sqlite;

namespace Herald.Store.Tests.Sqlite;

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
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Database_uses_wal_journal()
    {
        await using var connection = new SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";

        Assert.Equal("wal", await command.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_database_held_locked_by_another_connection_fails_as_a_transient_store_error()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var holder = new SqliteConnection($"Data Source={DbPath}");
        await holder.OpenAsync(ct);
        await using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE;";
            await begin.ExecuteNonQueryAsync(ct);
        }

        // The store waits its busy timeout (5 s), then says the lock is someone else's and a retry can help.
        var error = await Assert.ThrowsAsync<StoreException>(() => Store.AddSuppressionsAsync(
            [new SuppressionEntry("a@example.com", SuppressionReason.Manual, null, DateTimeOffset.UnixEpoch)], ct));

        Assert.True(error.IsTransient);
        Assert.Equal("SQLITE_BUSY", error.SqlState);
        Assert.IsType<SqliteException>(error.InnerException);
    }

    [Fact]
    public async Task A_broken_schema_is_a_store_error_that_is_not_transient()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var connection = new SqliteConnection($"Data Source={DbPath}"))
        {
            await connection.OpenAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "DROP TABLE suppressions; CREATE TABLE suppressions (email TEXT);";
            await command.ExecuteNonQueryAsync(ct);
        }

        var error = await Assert.ThrowsAsync<StoreException>(async () =>
        {
            await foreach (var entry in Store.ListSuppressionsAsync(ct))
            {
                Assert.Fail($"unexpected {entry}");
            }
        });

        Assert.False(error.IsTransient);
    }
}
