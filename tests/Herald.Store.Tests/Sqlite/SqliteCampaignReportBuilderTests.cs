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

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
