using Herald.Campaigns;
using Herald.Prepare;
using Herald.Store;

namespace Herald.Cli.Commands;

/// <summary>Before sending: prepare the plan when it is missing, refuse a stale one.</summary>
internal static class PlanStep
{
    public static async Task EnsurePlanAsync(Campaign campaign, IDeliveryStore store, ISuppressionList? suppression, CancellationToken cancellationToken)
    {
        var freshness = await PlanFreshness.CheckAsync(campaign, store, cancellationToken).ConfigureAwait(false);
        freshness.ThrowIfStale(DisplayPath.For(campaign.FilePath));
        if (freshness.Status == PlanStatus.Missing)
        {
            Console.WriteLine($"no plan for campaign '{campaign.Id}' yet: preparing it…");
            var manifest = await Preparer.PrepareAsync(campaign, store, suppression, new PrepareOptions(), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"prepared: {manifest.RowsRead} read, {manifest.Deliverable} deliverable, {manifest.SkippedTotal} skipped.");
        }
    }
}
