using Herald.Store;

namespace Herald.Tracking;

/// <summary>Delivery numbers of a campaign, from the ledger.</summary>
public sealed record DeliverySummary(
    long Total,
    long Pending,
    long Sending,
    long Sent,
    long Failed,
    long InDoubt,
    long Skipped,
    IReadOnlyList<FailureGroup> FailedByCode,
    IReadOnlyDictionary<string, long> SkippedByReason);

/// <summary>Failed recipients sharing an SMTP code; <paramref name="Code"/> is null when the failure had no reply code.</summary>
public sealed record FailureGroup(int? Code, string? SampleText, long Count);

/// <summary>Rates of one population, as fractions (0..1); null when the denominator is zero.</summary>
public sealed record EngagementRates(double? ClickThroughRate, double? ClickToOpenRate);

/// <summary>Everything <c>herald report</c> and the dashboard show about one campaign.</summary>
public sealed record CampaignReport(
    string Campaign,
    DateTimeOffset GeneratedAt,
    DeliverySummary Delivery,
    EngagementCounts Raw,
    EngagementRates RawRates,
    EngagementCounts Human,
    EngagementRates HumanRates,
    IReadOnlyList<LinkStats> Links,
    long BucketSeconds,
    IReadOnlyList<TimePoint> Timeline,
    IReadOnlyDictionary<string, long> BotFlags);

/// <summary>Builds a <see cref="CampaignReport"/> from the ledger (when there is one) and the tracking events.</summary>
public static class CampaignReportBuilder
{
    /// <summary>
    /// Streams the campaign's events and its ledger once each. The returned analyzer answers per-recipient questions
    /// (<see cref="EngagementAnalyzer.GetRecipient"/>) for exports.
    /// </summary>
    public static async Task<(CampaignReport Report, EngagementAnalyzer Analyzer)> BuildAsync(
        string campaignId,
        IDeliveryStore? ledger,
        ITrackingStore tracking,
        EngagementOptions? options,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tracking);
        var analyzer = new EngagementAnalyzer(options);
        await analyzer.AddAllAsync(tracking.ReadEventsAsync(campaignId, cancellationToken), cancellationToken).ConfigureAwait(false);

        long total = 0, pending = 0, sending = 0, sent = 0, failed = 0, inDoubt = 0, skipped = 0;
        var failures = new Dictionary<int, (string? Text, long Count)>();
        var skips = new SortedDictionary<string, long>(StringComparer.Ordinal);
        if (ledger is not null)
        {
            await foreach (var row in ledger.ReadRecipientsAsync(campaignId, cancellationToken).ConfigureAwait(false))
            {
                total++;
                switch (row.State)
                {
                    case DeliveryState.Pending: pending++; break;
                    case DeliveryState.Sending: sending++; break;
                    case DeliveryState.Sent:
                        sent++;
                        if (row.UpdatedAt is { } at && analyzer.NeedsDeliveryTime(row.RecipientId))
                        {
                            analyzer.SetDeliveredAt(row.RecipientId, at);
                        }

                        break;
                    case DeliveryState.Failed:
                        failed++;
                        var key = row.SmtpCode ?? -1;
                        var existing = failures.GetValueOrDefault(key);
                        failures[key] = (existing.Text ?? row.SmtpText, existing.Count + 1);
                        break;
                    case DeliveryState.InDoubt: inDoubt++; break;
                    case DeliveryState.Skipped:
                        skipped++;
                        var reason = row.SkipReason ?? "unknown";
                        skips[reason] = skips.GetValueOrDefault(reason) + 1;
                        break;
                    default: break;
                }
            }
        }

        var engagement = analyzer.Build();
        var delivery = new DeliverySummary(total, pending, sending, sent, failed, inDoubt, skipped,
            failures.OrderByDescending(f => f.Value.Count).ThenBy(f => f.Key)
                .Select(f => new FailureGroup(f.Key < 0 ? null : f.Key, f.Value.Text, f.Value.Count)).ToList(),
            skips);
        var report = new CampaignReport(
            campaignId,
            DateTimeOffset.UtcNow,
            delivery,
            engagement.Raw,
            Rates(engagement.Raw, sent),
            engagement.Human,
            Rates(engagement.Human, sent),
            engagement.Links,
            (long)engagement.Bucket.TotalSeconds,
            engagement.Timeline,
            engagement.Flags);
        return (report, analyzer);
    }

    private static EngagementRates Rates(EngagementCounts counts, long delivered) => new(
        delivered == 0 ? null : (double)counts.UniqueClicks / delivered,
        counts.UniqueOpens == 0 ? null : (double)counts.UniqueClicks / counts.UniqueOpens);
}
