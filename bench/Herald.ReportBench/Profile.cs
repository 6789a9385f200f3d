using System.Diagnostics;
using Herald.Store;
using Herald.Tracking;

namespace Herald.ReportBench;

/// <summary>Each report query alone, in order, timed: where a report's time goes on a backend.</summary>
internal static class Profile
{
    public static async Task RunAsync(IReportStore store, string campaign)
    {
        var window = new EventWindow(campaign);
        var options = new EngagementOptions();
        async Task<T> Time<T>(string name, Func<Task<T>> work)
        {
            using var self = Process.GetCurrentProcess();
            var cpu = self.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var result = await work();
            self.Refresh();
            Console.WriteLine($"  {name,-28} {clock.Elapsed.TotalMilliseconds,9:F0} ms wall {(self.TotalProcessorTime - cpu).TotalMilliseconds,9:F0} ms cpu");
            return result;
        }

        async Task<long> Count<T>(IAsyncEnumerable<T> source)
        {
            long n = 0;
            await foreach (var _ in source)
            {
                n++;
            }

            return n;
        }

        var delivery = await Time("delivery facts", () => store.GetDeliveryAsync(campaign, CancellationToken.None));
        await Time("links", () => store.GetLinksAsync(campaign, CancellationToken.None));
        var span = await Time("event span", () => store.GetEventSpanAsync(window, CancellationToken.None));
        var heavy = await Time("heavy clickers", () => store.FindHeavyClickersAsync(window, options.MaxEventsPerRecipient, CancellationToken.None));
        var edges = span is null ? [] : TimeBuckets.Edges(span.First, span.Last);
        await Time("open buckets", () => store.CountByBucketAsync(window, TrackingEventKind.Open, edges, null, CancellationToken.None));
        await Time("click buckets", () => store.CountByBucketAsync(window, TrackingEventKind.Click, edges, null, CancellationToken.None));
        await Time("heavy clicks by link", () => store.CountClicksByLinkAsync(window, [.. heavy.Select(h => h.RecipientId)], null, CancellationToken.None));
        await Time("delivered stream", () => Count(store.ReadDeliveredAsync(campaign, 0, 1, CancellationToken.None)));
        await Time("delivery span", () => store.GetDeliverySpanAsync(campaign, CancellationToken.None));
        await Time("engaged deliveries stream", () => Count(store.ReadEngagedDeliveriesAsync(window, CancellationToken.None)));
        await Time("open summaries stream", () => Count(store.ReadOpenSummariesAsync(window, CancellationToken.None)));
        await Time("click stream", () => Count(store.ReadClicksAsync(window, [.. heavy.Select(h => h.RecipientId)], null, CancellationToken.None)));
        await Time("unsubscribes stream", () => Count(store.ReadUnsubscribesAsync(window, CancellationToken.None)));
        await Time("campaign list", () => store.ListCampaignsAsync(CancellationToken.None));
        _ = delivery;
    }
}
