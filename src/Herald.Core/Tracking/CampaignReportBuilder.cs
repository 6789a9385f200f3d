using Herald.Store;

namespace Herald.Tracking;

/// <summary>
/// Builds a <see cref="CampaignReport"/> from an <see cref="IReportStore"/>. The store computes the aggregates (per
/// recipient, per bucket, per state); the recipient-ordered streams are merged here, one recipient at a time, where
/// the bot rules that need a recipient's other clicks run (a sliding window, linear in its clicks). Recipients past
/// <see cref="EngagementOptions.MaxEventsPerRecipient"/> are counted by the store and never streamed.
/// </summary>
public static class CampaignReportBuilder
{
    /// <summary>Builds the report of <paramref name="window"/>. <paramref name="fallbackLinks"/> labels links when the store has no catalogue for the campaign.</summary>
    public static async Task<CampaignReport> BuildAsync(
        IReportStore store,
        EventWindow window,
        EngagementOptions? options,
        IReadOnlyList<LinkDefinition>? fallbackLinks,
        TimeProvider? time,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(window);
        options ??= new EngagementOptions();
        options.Validate();
        var now = (time ?? TimeProvider.System).GetUtcNow();

        // Every query of one report stops together: when one fails, the others are not left running.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ct = stop.Token;
        var pending = new List<Task>();
        try
        {
            // The cheap queries first, together, each on its own connection; the delivery times (a read of every sent
            // row) go on while the recipient streams start, unless the store streams the engaged recipients' times
            // beside the events (then only the first and last delivery are read here).
            var engaged = await store.PrefersEngagedDeliveriesAsync(window, ct).ConfigureAwait(false);
            var deliveryTask = Track(store.GetDeliveryAsync(window.CampaignId, ct));
            var bouncesTask = Track(store.GetBouncesAsync(window.CampaignId, ct));
            var linksTask = Track(store.GetLinksAsync(window.CampaignId, ct));
            var spanTask = Track(store.GetEventSpanAsync(window, ct));
            var heavyTask = Track(store.FindHeavyClickersAsync(window, options.MaxEventsPerRecipient, ct));
            var deliveredTask = Track(engaged ? ReadSpanAsync(store, window.CampaignId, ct) : ReadDeliveredAsync(store, window.CampaignId, ct));
            await Task.WhenAll(deliveryTask, bouncesTask, linksTask, spanTask, heavyTask).ConfigureAwait(false);
            var delivery = await deliveryTask.ConfigureAwait(false);
            var links = await linksTask.ConfigureAwait(false);
            if (links.Count == 0 && fallbackLinks is not null)
            {
                links = fallbackLinks;
            }

            var heavy = await heavyTask.ConfigureAwait(false);
            IReadOnlySet<int>? withTarget = links.Count == 0 ? null : links.Where(l => l.Personalized).Select(l => l.Number).ToHashSet();
            var heavyLinks = Track(store.CountClicksByLinkAsync(window, [.. heavy.Select(h => h.RecipientId)], withTarget, ct));
            var reader = await RecipientActivityReader.OpenAsync(store, window, engaged ? null : MapOf(deliveredTask), engaged, heavy, withTarget, options, ct).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var delivered = await deliveredTask.ConfigureAwait(false);
                var edges = Edges(window, delivered, await spanTask.ConfigureAwait(false));

                // The heavy work: the recipient merge and the per-bucket counts, concurrently.
                var opensTimeline = Track(store.CountByBucketAsync(window, TrackingEventKind.Open, edges, null, ct));
                var clicksTimeline = Track(store.CountByBucketAsync(window, TrackingEventKind.Click, edges, null, ct));
                var unsubscribesTimeline = Track(store.CountByBucketAsync(window, TrackingEventKind.Unsubscribe, edges, null, ct));
                var accumulator = new ReportAccumulator(options, links, edges);
                while (await reader.MoveNextAsync().ConfigureAwait(false))
                {
                    accumulator.Add(reader.Current);
                }

                accumulator.AddHeavyLinks(await heavyLinks.ConfigureAwait(false));
                // Volume bots' unflagged opens are not human: take them out of the human timeline (none to count: no query).
                var volumeOpens = await store.CountByBucketAsync(window, TrackingEventKind.Open, edges, accumulator.VolumeOpeners, ct).ConfigureAwait(false);
                var timeline = Timeline(edges, await opensTimeline.ConfigureAwait(false), volumeOpens, await clicksTimeline.ConfigureAwait(false),
                    accumulator.HumanClicksPerBucket, await unsubscribesTimeline.ConfigureAwait(false));
                return Assemble(window, now, delivery, delivered, await bouncesTask.ConfigureAwait(false), accumulator, timeline, options);
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var task in pending)
            {
                await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            throw;
        }

        Task<T> Track<T>(Task<T> task)
        {
            pending.Add(task);
            return task;
        }
    }

    private static async Task<DeliveryTimes> MapOf(Task<Delivered> delivered) => (await delivered.ConfigureAwait(false)).At!;

    /// <summary>Only the first and last delivery: the recipients' own times come with their events.</summary>
    private static async Task<Delivered> ReadSpanAsync(IReportStore store, string campaignId, CancellationToken cancellationToken)
    {
        var span = await store.GetDeliverySpanAsync(campaignId, cancellationToken).ConfigureAwait(false);
        return new Delivered(null, span?.First, span?.Last);
    }

    /// <summary>
    /// Every sent recipient's delivery time, and the first and last of them: read in parts of the plan, one per core (at
    /// most 4), at once. The merge cannot start before the map is complete (it needs each recipient's delivery time
    /// and the timeline's edges), and one reader alone kept one core busy while the other waited.
    /// </summary>
    private static async Task<Delivered> ReadDeliveredAsync(IReportStore store, string campaignId, CancellationToken cancellationToken)
    {
        var parts = Math.Clamp(Environment.ProcessorCount, 1, 4);
        var reads = Enumerable.Range(0, parts).Select(p => Task.Run(() => ReadPartAsync(store, campaignId, p, parts, cancellationToken), cancellationToken)).ToList();
        var done = await Task.WhenAll(reads).ConfigureAwait(false);
        var first = done.Where(d => d.First is not null).Select(d => d.First).Min();
        var last = done.Where(d => d.Last is not null).Select(d => d.Last).Max();
        return new Delivered(new DeliveryTimes([.. done.Select(d => d.At)]), first, last);
    }

    private static async Task<(Dictionary<string, DateTimeOffset> At, DateTimeOffset? First, DateTimeOffset? Last)> ReadPartAsync(
        IReportStore store, string campaignId, int part, int parts, CancellationToken cancellationToken)
    {
        var at = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        DateTimeOffset? first = null, last = null;
        await foreach (var row in store.ReadDeliveredAsync(campaignId, part, parts, cancellationToken).ConfigureAwait(false))
        {
            // A recipient id planned twice (a duplicate skipped at prepare) keeps the first delivery.
            at.TryAdd(row.RecipientId, row.At);
            first = first is null || row.At < first ? row.At : first;
            last = last is null || row.At > last ? row.At : last;
        }

        return (at, first, last);
    }

    private static IReadOnlyList<DateTimeOffset> Edges(EventWindow window, Delivered delivered, EventSpan? span)
    {
        DateTimeOffset? first = Min(delivered.First, span?.First);
        DateTimeOffset? last = Max(delivered.Last, span?.Last);
        if (window.From is { } from)
        {
            first = first is null ? from : Max(first, from);
        }

        if (window.To is { } to)
        {
            last = last is null ? to : Min(last, to.AddTicks(-1));
        }

        return first is { } f && last is { } l && l >= f ? TimeBuckets.Edges(f, l) : [];

        static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;
        static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
    }

    private static List<TimePoint> Timeline(
        IReadOnlyList<DateTimeOffset> edges, IReadOnlyList<BucketCount> opens, IReadOnlyList<BucketCount> volumeOpens,
        IReadOnlyList<BucketCount> clicks, long[] humanClicks, IReadOnlyList<BucketCount> unsubscribes)
    {
        var points = new List<TimePoint>(Math.Max(0, edges.Count - 1));
        for (var i = 0; i + 1 < edges.Count; i++)
        {
            var volume = i < volumeOpens.Count ? volumeOpens[i].Unflagged : 0;
            points.Add(new TimePoint(
                edges[i],
                (long)(edges[i + 1] - edges[i]).TotalSeconds,
                opens[i].Events,
                Math.Max(0, opens[i].Unflagged - volume),
                clicks[i].Events,
                humanClicks[i],
                unsubscribes[i].Events));
        }

        return points;
    }

    private static CampaignReport Assemble(
        EventWindow window, DateTimeOffset now, DeliveryFacts? facts, Delivered delivered, BounceFacts bounces, ReportAccumulator a, List<TimePoint> timeline, EngagementOptions options)
    {
        var delivery = facts is null
            ? new DeliverySummary(0, 0, 0, 0, 0, 0, 0, [], new Dictionary<string, long>(), null, null, bounces)
            : new DeliverySummary(facts.Total, facts.Pending, facts.Sending, facts.Sent, facts.Failed, facts.InDoubt, facts.Skipped,
                facts.FailedByCode, facts.SkippedByReason, delivered.First, delivered.Last, bounces);
        var raw = new EngagementCounts(a.Opens, a.UniqueOpens, a.Clicks, a.UniqueClicks, a.OpenedOrClicked, a.Unsubscribers);
        var human = new EngagementCounts(a.HumanOpens, a.HumanUniqueOpens, a.HumanClicks, a.HumanUniqueClicks, a.HumanOpenedOrClicked, a.Unsubscribers);
        var rates = ReportRates.For(delivery, raw, human);
        var flags = new SortedDictionary<string, long>(StringComparer.Ordinal)
        {
            ["head"] = a.Head,
            ["scanner"] = a.Scanner,
            ["apple_mpp"] = a.AppleMpp,
            ["early_click"] = a.EarlyClicks,
            ["click_burst"] = a.BurstClicks,
            ["volume"] = a.VolumeEvents,
        };
        return new CampaignReport(
            window.CampaignId,
            now,
            new ReportRange(window.From, window.To),
            delivery,
            raw,
            human,
            rates.ToDictionary(r => r.Name, r => r.Raw, StringComparer.Ordinal),
            rates.ToDictionary(r => r.Name, r => r.Human, StringComparer.Ordinal),
            rates,
            [.. a.Links.Select(l => LinkStatsOf(l, options.TopTargets))],
            timeline,
            new TimeToFirst(DelayStatistics.Of(a.OpenDelays), DelayStatistics.Of(a.HumanOpenDelays)),
            new TimeToFirst(DelayStatistics.Of(a.ClickDelays), DelayStatistics.Of(a.HumanClickDelays)),
            flags,
            new BotSummary(options.MaxEventsPerRecipient, a.VolumeRecipients, a.VolumeEvents));
    }

    private static LinkStats LinkStatsOf(ReportAccumulator.LinkAccumulator l, int top)
    {
        var ordered = l.Targets.OrderByDescending(t => t.Clicks).ThenBy(t => t.Url, StringComparer.Ordinal).ToList();
        var listed = ordered.Take(top).Select(t => new TargetStats(t.Url, t.Clicks, t.Unique, t.Human, t.HumanUnique)).ToList();
        var rest = ordered.Skip(top).ToList();
        OtherTargets? other = rest.Count == 0 && !l.Overflowed
            ? null
            : new OtherTargets(l.Overflowed ? null : rest.Count, rest.Sum(t => t.Clicks) + l.OtherClicks, rest.Sum(t => t.Human) + l.OtherHuman);
        return new LinkStats(l.Definition.Number, l.Definition.Label, l.Definition.StaticTarget, l.Definition.Personalized,
            l.Clicks, l.Unique, l.Human, l.HumanUnique, listed, other);
    }

    /// <summary>The delivery times (null when they are streamed with the events) and the first and last of them.</summary>
    private sealed record Delivered(DeliveryTimes? At, DateTimeOffset? First, DateTimeOffset? Last);
}
