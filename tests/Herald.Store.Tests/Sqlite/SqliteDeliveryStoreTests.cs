using Herald.Sqlite;
using Microsoft.Data.Sqlite;

namespace Herald.Store.Tests.Sqlite;

public sealed class SqliteDeliveryStoreTests : DeliveryStoreContractTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-store-").FullName;

    private ManualTimeProvider Clock { get; } = new();

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(30);

    protected override async Task<IDeliveryStore> CreateStoreAsync() => await SqliteDeliveryStore.OpenAsync(DbPath, Ct, Clock);

    protected override Task<IDeliveryStore> ReopenStoreAsync() => CreateStoreAsync();

    // One sender process per campaign: a second worker is a second worker of the same store.
    protected override Task<IDeliveryStore> OpenPeerAsync() => Task.FromResult(Store);

    protected override Task PassAsync(TimeSpan span)
    {
        Clock.Advance(span);
        return Task.CompletedTask;
    }

    protected override async Task<IReadOnlyList<IDeliveryStore>> OpenMigratingConcurrentlyAsync(int count)
    {
        var path = Path.Combine(_dir, "concurrent.db");
        var stores = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => Task.Run(() => SqliteDeliveryStore.OpenAsync(path, Ct, Clock), Ct)));
        return stores;
    }

    [Fact]
    public async Task A_second_sender_on_the_same_campaign_is_refused()
    {
        await PlanAsync(Store, "c1", 1);
        await StartAsync(Store, "c1", "w1");

        await using var second = await SqliteDeliveryStore.OpenAsync(DbPath, Ct, Clock);
        var error = await Assert.ThrowsAsync<StoreException>(() => StartAsync(second, "c1", "w2"));
        Assert.Contains("already sending", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsTransient);
        await Assert.ThrowsAsync<StoreException>(() => second.RecoverAsync("c1", "w2", Ct));
        // Another campaign in the same file is another sender's business.
        await PlanAsync(second, "c2", 1);
        await StartAsync(second, "c2", "w2");
    }

    [Theory]
    [InlineData("symlink-to-file")]
    [InlineData("symlinked-folder")]
    [InlineData("relative-path")]
    public async Task A_second_sender_reaching_the_same_file_by_another_path_is_refused(string how)
    {
        await PlanAsync(Store, "c1", 1);
        await StartAsync(Store, "c1", "w1");
        string other;
        switch (how)
        {
            case "symlink-to-file":
                other = Path.Combine(_dir, "alias.db");
                File.CreateSymbolicLink(other, DbPath);
                break;
            case "symlinked-folder":
                var link = Path.Combine(_dir, "linked");
                Directory.CreateSymbolicLink(link, _dir);
                other = Path.Combine(link, "herald.db");
                break;
            default:
                var sub = Directory.CreateDirectory(Path.Combine(_dir, "sub")).FullName;
                other = Path.GetRelativePath(Directory.GetCurrentDirectory(), Path.Combine(sub, "..", "herald.db"));
                break;
        }

        await using var second = await SqliteDeliveryStore.OpenAsync(other, Ct, Clock);
        var error = await Assert.ThrowsAsync<StoreException>(() => StartAsync(second, "c1", "w2"));
        Assert.Contains("already sending", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_sender_of_a_process_that_is_gone_is_recovered_at_once_not_after_its_lease()
    {
        await using (var crashed = await SqliteDeliveryStore.OpenAsync(DbPath, Ct, Clock))
        {
            await PlanAsync(crashed, "c1", 2);
            await StartAsync(crashed, "c1", "w1");
            var items = await crashed.ClaimAsync("c1", "w1", 2, LongLease, Ct);
            await crashed.CommitAsync("w1", [items[0].Claimed], [], Ct);
        }

        // The file lock proves the first process is gone, so its live-looking lease does not make anyone wait.
        await using var store = await SqliteDeliveryStore.OpenAsync(DbPath, Ct, Clock);
        await StartAsync(store, "c1", "w2");
        var recovery = await store.RecoverAsync("c1", "w2", Ct);

        Assert.Equal((1, 1), (recovery.InDoubt, recovery.Released));
    }

    [Fact]
    public async Task A_version_1_ledger_is_upgraded_in_place_and_its_leases_are_recovered()
    {
        var path = Path.Combine(_dir, "v1.db");
        await using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE plans (campaign TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, created_at INTEGER NOT NULL, row_count INTEGER NOT NULL);
                CREATE TABLE recipients (id INTEGER PRIMARY KEY, campaign TEXT NOT NULL, recipient_id TEXT NOT NULL, email TEXT NOT NULL,
                  context BLOB, state INTEGER NOT NULL, skip_reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                  next_attempt_at INTEGER NOT NULL DEFAULT 0, first_attempt_at INTEGER, lease_owner TEXT, lease_until INTEGER,
                  smtp_code INTEGER, smtp_text TEXT, relay TEXT, message_id TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                INSERT INTO plans VALUES ('old', 'f', 0, 2);
                INSERT INTO recipients (campaign, recipient_id, email, state, attempts, lease_owner, lease_until, message_id, created_at, updated_at)
                VALUES ('old', 'r0', 'a@example.com', 1, 1, 'gone', 9999999999999, '<a@x>', 0, 0),
                       ('old', 'r1', 'b@example.com', 0, 0, 'gone', 9999999999999, '<b@x>', 0, 0);
                """;
            await command.ExecuteNonQueryAsync(Ct);
        }

        SqliteConnection.ClearAllPools();
        await using var store = await SqliteDeliveryStore.OpenAsync(path, Ct, Clock);
        await StartAsync(store, "old", "w1");
        var recovery = await store.RecoverAsync("old", "w1", Ct);

        Assert.Equal((1, 1), (recovery.InDoubt, recovery.Released));
        Assert.Equal(["r1"], (await store.ClaimAsync("old", "w1", 5, LongLease, Ct)).Select(i => i.RecipientId));
    }

    [Fact]
    public async Task A_ledger_from_a_newer_herald_is_refused_and_not_transient()
    {
        await using (var connection = new SqliteConnection($"Data Source={DbPath}"))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE ledger_schema SET version = 99";
            await command.ExecuteNonQueryAsync(Ct);
        }

        var error = await Assert.ThrowsAsync<StoreException>(() => SqliteDeliveryStore.OpenAsync(DbPath, Ct, Clock));
        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.False(error.IsTransient);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
