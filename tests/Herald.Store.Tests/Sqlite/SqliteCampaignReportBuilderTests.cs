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

    // Version 1 of the tracking tables had no rollups.
    protected override Task ForgetRollupsAsync() => ExecuteSqlAsync("""
        DROP TRIGGER tracking_events_rollups;
        DROP TABLE rollup_recipients;
        DROP TABLE rollup_clicks;
        DROP TABLE rollup_minutes;
        UPDATE tracking_schema SET version = 1;
        """);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
