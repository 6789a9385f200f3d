using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Prepare;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Cli.Commands;

/// <summary>
/// A campaign's plan for commands that must not change the store (preview, send --to): the store's plan when it is
/// fresh, else a throwaway plan prepared in a scratch folder (with the store's suppression list when there is a
/// store). The store is opened read-only and never created.
/// </summary>
internal static class ReadOnlyPlan
{
    /// <param name="body">Runs on a plan; returns false to ask for the throwaway plan instead (the store's plan lacks what it needs).</param>
    public static async Task<T> RunAsync<T>(
        Campaign campaign, StoreLocation location, TextWriter output, string verb,
        Func<IDeliveryStore, Task<(bool Done, T Value)>> body, CancellationToken cancellationToken)
    {
        var stores = StoreFactory.Exists(location)
            ? await StoreFactory.OpenAsync(location, StoreAccess.ReadOnly, cancellationToken).ConfigureAwait(false)
            : null;
        string? scratch = null;
        var triedStored = false;
        try
        {
            if (stores is not null
                && (await PlanFreshness.CheckAsync(campaign, stores.Delivery, cancellationToken).ConfigureAwait(false)).Status == PlanStatus.Fresh)
            {
                output.WriteLine($"{verb} the plan in {location.Display}.");
                triedStored = true;
                var (done, value) = await body(stores.Delivery).ConfigureAwait(false);
                if (done)
                {
                    return value;
                }
            }

            scratch = Directory.CreateTempSubdirectory("herald-plan-").FullName;
            var store = await SqliteDeliveryStore.OpenAsync(Path.Combine(scratch, "plan.db"), cancellationToken).ConfigureAwait(false);
            await using (store.ConfigureAwait(false))
            {
                var manifest = await Preparer.PrepareAsync(campaign, store, stores?.Tracking, new PrepareOptions(), cancellationToken).ConfigureAwait(false);
                // After the stored plan was named, say this one replaces it (it lacked what the command needs).
                output.WriteLine($"{verb} a fresh plan{(triedStored ? " instead" : string.Empty)} (not saved): {manifest.Deliverable} deliverable, {manifest.SkippedTotal} skipped.");
                return (await body(store).ConfigureAwait(false)).Value;
            }
        }
        finally
        {
            if (stores is not null)
            {
                await stores.DisposeAsync().ConfigureAwait(false);
            }

            if (scratch is not null)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(scratch, recursive: true);
            }
        }
    }
}
