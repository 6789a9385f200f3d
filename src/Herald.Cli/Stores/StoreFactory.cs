using Herald.Sqlite;
using Herald.Store;

namespace Herald.Cli.Stores;

/// <summary>Whether a command may create the store.</summary>
internal enum StoreAccess
{
    /// <summary>The command only reads (status, report, serve, suppress list, preview): a missing store is an error.</summary>
    ReadOnly,

    /// <summary>The command writes (prepare, send, suppress add): the store is created when missing.</summary>
    ReadWrite,
}

/// <summary>The stores of one address, opened together; what every command works with.</summary>
internal sealed class HeraldStores : IAsyncDisposable
{
    public HeraldStores(StoreLocation location, IDeliveryStore delivery, ITrackingStore tracking, IReportStore reports)
    {
        Location = location;
        Delivery = delivery;
        Tracking = tracking;
        Reports = reports;
    }

    public StoreLocation Location { get; }

    public IDeliveryStore Delivery { get; }

    public ITrackingStore Tracking { get; }

    /// <summary>The read side of reports and the dashboard (aggregates over the ledger and the events).</summary>
    public IReportStore Reports { get; }

    public async ValueTask DisposeAsync()
    {
        await Reports.DisposeAsync().ConfigureAwait(false);
        await Tracking.DisposeAsync().ConfigureAwait(false);
        await Delivery.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The one place that turns a store address into stores; commands never construct a backend themselves.</summary>
internal static class StoreFactory
{
    /// <summary>Resolves the store by the rule (<see cref="StoreLocator"/>) and opens it.</summary>
    public static Task<HeraldStores> OpenAsync(string? db, string? campaignFile, StoreAccess access, CancellationToken cancellationToken) =>
        OpenAsync(StoreLocator.Resolve(db, campaignFile), access, cancellationToken);

    public static async Task<HeraldStores> OpenAsync(StoreLocation location, StoreAccess access, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        if (location.Kind == StoreKind.Postgres)
        {
            throw new StoreException($"{location.Display}: PostgreSQL stores are not supported by this build of herald.");
        }

        var path = location.Address;
        if (!File.Exists(path))
        {
            if (access == StoreAccess.ReadOnly)
            {
                throw new StoreException($"no store found: {location.WhereLooked}. Prepare or send a campaign first, or pass --db.");
            }

            if (location.Source == StoreSource.UserDefault)
            {
                // The user's data folder is ours to create; a folder named by --db or HERALD_DB is not.
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            }
        }

        var delivery = await SqliteDeliveryStore.OpenAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            var tracking = new SqliteTrackingStore(path);
            await tracking.MigrateAsync(cancellationToken).ConfigureAwait(false);
            // Like the tracking tables, the report indexes are upgraded on open (once, on an older store): the report
            // commands read in their order. This adds indexes to an existing store, it never creates one.
            var reports = new SqliteReportStore(path);
            await reports.MigrateAsync(cancellationToken).ConfigureAwait(false);
            return new HeraldStores(location, delivery, tracking, reports);
        }
        catch
        {
            await delivery.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>True when the store exists (without creating it): preview uses a store's plan only when there is one.</summary>
    public static bool Exists(StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        return location.Kind == StoreKind.Postgres || File.Exists(location.Address);
    }
}
