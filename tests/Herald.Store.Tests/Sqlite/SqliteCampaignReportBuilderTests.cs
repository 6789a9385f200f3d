using Herald.Sqlite;
using Microsoft.Data.Sqlite;

namespace Herald.Store.Tests.Sqlite;

public sealed class SqliteCampaignReportBuilderTests : CampaignReportBuilderTests
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-report-builder-").FullName;

    private string DbPath => Path.Combine(_dir, "herald.db");

    protected override async Task<(IDeliveryStore Ledger, ITrackingStore Tracking, IReportStore Reports)> CreateStoresAsync()
    {
        var ledger = await SqliteDeliveryStore.OpenAsync(DbPath, Ct);
        var tracking = new SqliteTrackingStore(DbPath);
        var reports = new SqliteReportStore(DbPath);
        await reports.MigrateAsync(Ct);
        return (ledger, tracking, reports);
    }

    protected override ITrackingStore OpenTracking() => new SqliteTrackingStore(DbPath);

    protected override Task<IReportStore> OpenReportsAsync() => Task.FromResult<IReportStore>(new SqliteReportStore(DbPath));

    protected override async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    // Version 1 of the tracking tables had no rollups (and no rolled column).
    protected override Task ForgetRollupsAsync() => ExecuteSqlAsync("""
        DROP TRIGGER tracking_events_rollups;
        DROP TABLE rollup_recipients;
        DROP TABLE rollup_clicks;
        DROP TABLE rollup_minutes;
        ALTER TABLE tracking_events DROP COLUMN rolled;
        UPDATE tracking_schema SET version = 1;
        """);

    [Fact]
    public async Task Rows_of_another_writer_keep_the_rollups_through_the_trigger_and_the_stores_own_count_once()
    {
        // Half the events appended by the store (rollups written by it), half inserted as a bulk load or a herald of
        // version 2 inserts them: without the rolled column, which the trigger keeps. Then the store's half replayed.
        var events = await SeedVariedAsync(append: false);
        var mine = events.Where((_, i) => i % 2 == 0).ToArray();
        var theirs = events.Where((_, i) => i % 2 == 1).ToList();
        await AppendAsync(mine);
        foreach (var chunk in theirs.Chunk(100))
        {
            await ExecuteSqlAsync(string.Concat(chunk.Select(e => $"""
                INSERT INTO tracking_events (id, at, kind, campaign, recipient, link, target, method, user_agent, client_net, flags)
                VALUES (X'{Convert.ToHexString(e.Id.ToByteArray(bigEndian: true))}', {e.At.UtcTicks}, {(int)e.Kind}, '{e.CampaignId}', '{e.RecipientId}',
                        {e.LinkNumber}, {(e.Target is null ? "NULL" : $"'{e.Target}'")}, '{e.Method}', NULL, NULL, {(int)e.Flags});
                """)));
        }

        Assert.Equal(0, await AppendAsync(mine));

        var (full, scan) = await BuildBothAsync();
        Assert.Equal(ToJson(scan), ToJson(full));
        Assert.Equal(events.Count(e => e.Kind == TrackingEventKind.Click), full.Raw.Clicks);
        Assert.Equal(events.Count(e => e.Kind == TrackingEventKind.Open), full.Raw.Opens);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
