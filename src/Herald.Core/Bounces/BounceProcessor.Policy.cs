using System.Security.Cryptography;
using System.Text;
using Herald.Store;

namespace Herald.Bounces;

/// <summary>The policy: what an event does to the suppression list.</summary>
public sealed partial class BounceProcessor
{
    /// <summary>
    /// Stores events (idempotently) and applies the policy to each, the new ones and those already stored: a process
    /// killed between the two steps suppresses on the next try. Returns how many addresses were newly suppressed.
    /// </summary>
    public async Task<BounceOutcome> RecordAsync(IReadOnlyList<BounceEvent> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        await _bounces.AppendAsync(events, cancellationToken).ConfigureAwait(false);
        var storePolicy = await _bounces.GetStorePolicyAsync(cancellationToken).ConfigureAwait(false);
        var policies = new Dictionary<string, BouncePolicy>(StringComparer.Ordinal);
        var suppressed = 0;
        foreach (var e in events)
        {
            if (!policies.TryGetValue(e.CampaignId, out var policy))
            {
                var campaign = await _bounces.GetCampaignSettingsAsync(e.CampaignId, cancellationToken).ConfigureAwait(false);
                policy = (campaign?.Policy ?? BouncePolicySettings.None).ApplyTo(storePolicy.ApplyTo(BouncePolicy.Default));
                policies[e.CampaignId] = policy;
            }

            suppressed += await ApplyAsync(e, policy, cancellationToken).ConfigureAwait(false);
        }

        var summary = string.Join(", ", events.GroupBy(e => e.Type).Select(g => $"{g.Count()} {g.Key.ToName()}"));
        return new BounceOutcome(BounceDisposition.Recorded, events, summary, suppressed);
    }

    /// <summary>The effective policy of a campaign: its own settings over the store's over the default.</summary>
    public async Task<BouncePolicy> PolicyForAsync(string campaignId, CancellationToken cancellationToken)
    {
        var storePolicy = await _bounces.GetStorePolicyAsync(cancellationToken).ConfigureAwait(false);
        var campaign = await _bounces.GetCampaignSettingsAsync(campaignId, cancellationToken).ConfigureAwait(false);
        return (campaign?.Policy ?? BouncePolicySettings.None).ApplyTo(storePolicy.ApplyTo(BouncePolicy.Default));
    }

    private async Task<int> ApplyAsync(BounceEvent e, BouncePolicy policy, CancellationToken cancellationToken)
    {
        switch (e.Type)
        {
            case BounceType.Hard when policy.SuppressHard:
                return await SuppressAsync(e, SuppressionReason.Bounced, cancellationToken).ConfigureAwait(false);
            case BounceType.Soft when policy.SoftLimit > 0:
                var recent = await _bounces.CountAsync(e.Email, BounceType.Soft, e.At - policy.SoftWindow, cancellationToken).ConfigureAwait(false);
                return recent >= policy.SoftLimit ? await SuppressAsync(e, SuppressionReason.Bounced, cancellationToken).ConfigureAwait(false) : 0;
            case BounceType.Complaint when policy.SuppressComplaints:
                // Suppressed as `complained` first (an address keeps its first reason), then counted as an unsubscribe:
                // one event in the tracking store, idempotent by id, that every report counts.
                var added = await SuppressAsync(e, SuppressionReason.Complained, cancellationToken).ConfigureAwait(false);
                await _tracking.AppendEventsAsync([new TrackingEvent(UnsubscribeId(e.Id), e.At, TrackingEventKind.Unsubscribe, e.CampaignId, e.RecipientId, 0, null,
                    ComplaintMethod, null, null, EventFlags.None, e.Email)], cancellationToken).ConfigureAwait(false);
                return added;
            default:
                return 0;
        }
    }

    /// <summary>The method recorded on the unsubscribe event a complaint counts as.</summary>
    public const string ComplaintMethod = "ARF";

    private Task<int> SuppressAsync(BounceEvent e, SuppressionReason reason, CancellationToken cancellationToken) =>
        _tracking.AddSuppressionsAsync([new SuppressionEntry(e.Email, reason, e.CampaignId, e.At)], cancellationToken);

    private static Guid UnsubscribeId(Guid complaint)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("complaint-unsubscribe\0" + complaint.ToString("N")), hash);
        return new Guid(hash[..16]);
    }
}
