using Herald.Campaigns;
using Herald.Store;

namespace Herald.Prepare;

/// <summary>Whether a campaign's plan in the store can be sent as it is.</summary>
public enum PlanStatus
{
    /// <summary>No plan yet: <c>herald send</c> prepares one first.</summary>
    Missing,

    /// <summary>The plan was prepared from the current inputs.</summary>
    Fresh,

    /// <summary>The inputs changed since the plan was prepared: sending refuses it.</summary>
    Stale,
}

/// <summary>The freshness check <c>herald send</c> runs before sending.</summary>
/// <param name="Status">Missing, fresh or stale.</param>
/// <param name="Plan">The plan in the store, when there is one.</param>
/// <param name="Fingerprint">The fingerprint of the campaign's current inputs.</param>
public sealed record PlanFreshness(PlanStatus Status, PlanInfo? Plan, string Fingerprint)
{
    public static async Task<PlanFreshness> CheckAsync(Campaign campaign, IDeliveryStore store, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(campaign);
        ArgumentNullException.ThrowIfNull(store);
        var fingerprint = PlanFingerprint.Compute(campaign);
        var plan = await store.GetPlanAsync(campaign.Id, cancellationToken).ConfigureAwait(false);
        var status = plan is null ? PlanStatus.Missing : plan.Fingerprint == fingerprint ? PlanStatus.Fresh : PlanStatus.Stale;
        return new PlanFreshness(status, plan, fingerprint);
    }

    /// <summary>Throws a <see cref="HeraldException"/> with the operator's next step when the plan is stale.</summary>
    public void ThrowIfStale(string campaignFile)
    {
        if (Status != PlanStatus.Stale)
        {
            return;
        }

        var message = Plan!.Started
            ? $"the inputs of campaign '{Plan.CampaignId}' (recipients, data sets, templates or settings) changed after it started sending; " +
              "restore them to continue this campaign, or send the changes as a new campaign (new id)"
            : $"the plan of campaign '{Plan.CampaignId}' is stale: its recipients, data sets, templates or settings changed since it was prepared ({Plan.CreatedAt:u}); " +
              $"run `herald prepare {campaignFile}` again";
        throw new HeraldException(message);
    }
}
