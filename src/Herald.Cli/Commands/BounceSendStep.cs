using System.Globalization;
using Herald.Bounces;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Delivery;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary>What <c>send</c> does about bounces: records the campaign's bounce settings, sets the return path, applies the policy to synchronous bounces.</summary>
internal static class BounceSendStep
{
    /// <summary>
    /// Before the engine starts: the campaign's bounce domain and policy go into the store (the receiver reads them
    /// there), synchronous bounces a previous run left are processed, and the return path of each message is returned
    /// (null without a bounce domain).
    /// </summary>
    public static async Task<Func<WorkItem, string>?> BeforeAsync(Campaign campaign, HeraldStores stores, TokenSigner signer, CancellationToken cancellationToken)
    {
        var domain = campaign.Bounces.Domain;
        await stores.Bounces.SetCampaignSettingsAsync(new CampaignBounceSettings(campaign.Id, domain, campaign.Bounces.Policy), cancellationToken).ConfigureAwait(false);
        await new BounceProcessor(stores.Bounces, stores.Tracking, signer).ApplySyncFailuresAsync(campaign.Id, cancellationToken).ConfigureAwait(false);
        if (domain is null)
        {
            return null;
        }

        Console.WriteLine($"bounces: each message's MAIL FROM is b-<token>@{domain}; 'herald bounces listen' must receive that domain's mail");
        return item => signer.CreateReturnPath(campaign.Id, item.Id, domain);
    }

    /// <summary>
    /// The campaign's reputation guards (hard-bounce and complaint rates; none when both are <c>off</c>), on whatever
    /// backend the store is. A run that continues a complaint pause tells the guard so (it then counts new complaints only).
    /// </summary>
    public static async Task<IReadOnlyList<IDeliveryGuard>> GuardsAsync(Campaign campaign, HeraldStores stores, CancellationToken cancellationToken)
    {
        if (!BounceRateGuard.IsNeeded(campaign.Bounces))
        {
            return [];
        }

        var pause = await stores.State.GetPauseAsync(campaign.Id, cancellationToken).ConfigureAwait(false);
        var ledger = stores.Delivery;
        return
        [
            new BounceRateGuard(campaign.Id, campaign.Bounces, stores.Bounces,
                async ct => (await ledger.GetCountsAsync(campaign.Id, ct).ConfigureAwait(false)).Sent,
                BounceRateGuard.IsComplaintPause(pause?.Reason)),
        ];
    }

    /// <summary>After the engine stopped (however it stopped): the policy applied to this run's synchronous bounces.</summary>
    public static async Task AfterAsync(Campaign campaign, HeraldStores stores, TokenSigner signer)
    {
        try
        {
            var result = await new BounceProcessor(stores.Bounces, stores.Tracking, signer).ApplySyncFailuresAsync(campaign.Id, CancellationToken.None).ConfigureAwait(false);
            if (result.Hard + result.Soft > 0)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"synchronous bounces: {result.Hard} hard, {result.Soft} soft; {result.Suppressed} address(es) newly suppressed"));
            }
        }
        catch (StoreException ex)
        {
            // Nothing is lost: the next send (or `bounces import`) applies it; the ledger keeps every reply.
            Console.Error.WriteLine($"synchronous bounces not processed yet (the next run will): {ex.Message}");
        }
    }
}
