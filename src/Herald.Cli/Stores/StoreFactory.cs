using Herald.Postgres;
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
    public HeraldStores(StoreLocation location, IDeliveryStore delivery, ITrackingStore tracking, ICampaignStateStore state, IBounceStore bounces, IReportStore reports)
    {
        Location = location;
        Delivery = delivery;
        Tracking = tracking;
        State = state;
        Bounces = bounces;
        Reports = reports;
    }

    public StoreLocation Location { get; }

    public IDeliveryStore Delivery { get; }

    public ITrackingStore Tracking { get; }

    /// <summary>Campaign pauses and relay health (written by send, shown by status).</summary>
    public ICampaignStateStore State { get; }

    /// <summary>Bounce and complaint events, each campaign's bounce settings, the store's bounce policy.</summary>
    public IBounceStore Bounces { get; }

    /// <summary>The read side of reports and the dashboard (aggregates over the ledger and the events).</summary>
    public IReportStore Reports { get; }

    public async ValueTask DisposeAsync()
    {
        await Reports.DisposeAsync().ConfigureAwait(false);
        await Bounces.DisposeAsync().ConfigureAwait(false);
        await State.DisposeAsync().ConfigureAwait(false);
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
            return await OpenPostgresAsync(location, access, cancellationToken).ConfigureAwait(false);
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
            var state = new SqliteCampaignStateStore(path);
            if (access == StoreAccess.ReadWrite)
            {
                // Readers of a store that predates these tables see "not paused", so only writers create them.
                await state.MigrateAsync(cancellationToken).ConfigureAwait(false);
            }

            var bounces = new SqliteBounceStore(path);
            await bounces.MigrateAsync(cancellationToken).ConfigureAwait(false);
            // Like the tracking tables, the report indexes are upgraded on open (once, on an older store): the report
            // commands read in their order. This adds indexes to an existing store, it never creates one.
            var reports = new SqliteReportStore(path);
            await reports.MigrateAsync(cancellationToken).ConfigureAwait(false);
            return new HeraldStores(location, delivery, tracking, state, bounces, reports);
        }
        catch
        {
            await delivery.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<HeraldStores> OpenPostgresAsync(StoreLocation location, StoreAccess access, CancellationToken cancellationToken)
    {
        // One pool for both stores of the process; the delivery store owns it and is disposed last.
        var connections = PostgresConnections.Open(PostgresAddress.Parse(location.Address));
        var delivery = new PostgresDeliveryStore(connections, ownsConnections: true);
        try
        {
            if (access == StoreAccess.ReadOnly)
            {
                // A command that only reads never creates the schema: a database without it is not a Herald store.
                if (await delivery.GetSchemaVersionAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw new StoreException($"no store found: {location.WhereLooked} has no Herald tables. Prepare or send a campaign first, or pass --db.");
                }
            }

            var bounces = new PostgresBounceStore(connections, ownsConnections: false);
            if (access != StoreAccess.ReadOnly)
            {
                await delivery.MigrateAsync(cancellationToken).ConfigureAwait(false);
                // Its own versioned tables beside the ledger's (the ledger's schema first).
                await bounces.MigrateAsync(cancellationToken).ConfigureAwait(false);
            }

            return new HeraldStores(location, delivery, new PostgresTrackingStore(connections, ownsConnections: false),
                new PostgresCampaignStateStore(connections, ownsConnections: false), bounces, new PostgresReportStore(connections, ownsConnections: false));
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
