using Herald.Sqlite;
using Herald.Store;

namespace Herald.Cli.Commands;

/// <summary>The store's suppression list for prepare and the sender (the tracking tables of the same SQLite file).</summary>
internal static class SuppressionLookup
{
    public static async Task<ISuppressionList> OpenAsync(string databasePath, CancellationToken cancellationToken)
    {
        var store = new SqliteTrackingStore(databasePath);
        await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
        return store;
    }
}
