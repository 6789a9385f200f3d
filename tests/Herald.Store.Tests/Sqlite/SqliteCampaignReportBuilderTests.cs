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

    [Fact]
    public async Task Rollup_recipients_keep_their_delivery_time_from_the_first_event_and_from_the_upgrade_to_version_4()
    {
        await SeedVariedAsync();
        var before = await BuildBothAsync();
        // Every rollup recipient but the one outside the ledger has its sent row's time.
        Assert.Equal((1L, 0L), await DeliveryTimesAsync());
        var full = new EventWindow("spring");
        Assert.True(await Reports.PrefersEngagedDeliveriesAsync(full, Ct));
        Assert.False(await Reports.PrefersEngagedDeliveriesAsync(new EventWindow("spring", DateTimeOffset.UnixEpoch, DateTimeOffset.MaxValue), Ct));

        // A store at version 3 (rollups, no delivery times): a store of this herald opened on it and not migrated
        // appends without them, a report reads the sent rows into a map; after the upgrade (the backfill) the kept
        // times again, and the same report each time.
        await ExecuteSqlAsync("DROP TABLE rollup_deliveries; UPDATE tracking_schema SET version = 3;");
        await using (var server = OpenTracking())
        {
            Assert.Equal(1, await server.AppendEventsAsync(
                [new TrackingEvent(Guid.CreateVersion7(), DateTimeOffset.UtcNow, TrackingEventKind.Open, "spring", "r40", 0, null, "GET", "Mozilla/5.0 (X11)", "203.0.113.0/24", EventFlags.None)], Ct));
        }

        var old = await BuildBothAsync(fresh: true);
        Assert.False(await Reports.PrefersEngagedDeliveriesAsync(full, Ct));
        await UpgradeAsync();
        var upgraded = await BuildBothAsync(fresh: true);

        Assert.True(await Reports.PrefersEngagedDeliveriesAsync(full, Ct));
        // r40 failed: no delivery time either.
        Assert.Equal((2L, 0L), await DeliveryTimesAsync());
        Assert.Equal(ToJson(before.Scan), ToJson(before.Full));
        Assert.Equal(ToJson(old.Scan), ToJson(old.Full));
        Assert.Equal(ToJson(old.Full), ToJson(upgraded.Full));
        Assert.Equal(before.Full.Raw.Opens + 1, old.Full.Raw.Opens);
    }

    /// <summary>Rollup recipients without a kept delivery time, and those whose kept time is not their first sent row's.</summary>
    private async Task<(long Missing, long Wrong)> DeliveryTimesAsync()
    {
        await using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await connection.OpenAsync(Ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM rollup_recipients r WHERE NOT EXISTS (SELECT 1 FROM rollup_deliveries d WHERE d.campaign = r.campaign AND d.recipient = r.recipient);";
        var missing = (long)(await command.ExecuteScalarAsync(Ct))!;
        command.CommandText = """
            SELECT COUNT(*) FROM rollup_deliveries d
            WHERE d.delivered_at IS NOT (SELECT l.updated_at FROM recipients l
                WHERE l.campaign = d.campaign AND l.recipient_id = d.recipient AND l.state = 2 ORDER BY l.id LIMIT 1);
            """;
        return (missing, (long)(await command.ExecuteScalarAsync(Ct))!);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
