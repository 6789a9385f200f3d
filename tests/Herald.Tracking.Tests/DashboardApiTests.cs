using System.Net;
using System.Text.Json;
using Herald.Store;

namespace Herald.Tracking.Tests;

/// <summary>The dashboard's API: overview, report, live stream, downloads, time limits.</summary>
public sealed class DashboardApiTests
{
    private const string Token = "dashboard-secret-1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Overview_lists_every_campaign_with_its_key_rates()
    {
        await using var server = await ServerHarness.StartAsync(recipients: 4, sent: 4, dashboardToken: Token);
        await SendAsync(server, ServerHarness.OpenPath("r1"), ServerHarness.OpenPath("r2"), ServerHarness.ClickPath("r1"));
        await server.FlushAsync();
        await server.Store.AppendEventsAsync([new TrackingEvent(Guid.CreateVersion7(), DateTimeOffset.UtcNow, TrackingEventKind.Open, "events-only", "x", 0, null, "GET", null, null, EventFlags.None)], Ct);
        // The report behind the rates is computed in the background: ask until it is there (bounded).
        JsonElement spring = default;
        await Until(async () =>
        {
            using var list = JsonDocument.Parse(await GetAsync(server, "/api/campaigns"));
            spring = list.RootElement.EnumerateArray().Single(c => c.GetProperty("id").GetString() == ServerHarness.Campaign).Clone();
            return list.RootElement.GetArrayLength() == 2 && spring.GetProperty("human_rates").ValueKind == JsonValueKind.Object
                && spring.GetProperty("human_rates").GetProperty("open_rate").GetDouble() > 0;
        });

        Assert.Equal((4L, 4L), (spring.GetProperty("recipients").GetInt64(), spring.GetProperty("sent").GetInt64()));
        Assert.Equal(0.5, spring.GetProperty("human_rates").GetProperty("open_rate").GetDouble());
        // The click came seconds after delivery: a scanner's timing, so all events count it and human numbers do not.
        Assert.Equal(0.25, spring.GetProperty("raw_rates").GetProperty("click_through_rate").GetDouble());
        Assert.Equal(0, spring.GetProperty("human_rates").GetProperty("click_through_rate").GetDouble());
        Assert.Equal("sent", spring.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Report_is_fresh_for_a_small_campaign_and_a_date_range_narrows_it()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);
        Assert.Equal(0, Parse(await GetAsync(server, "/api/campaigns/spring")).GetProperty("raw").GetProperty("opens").GetInt64());

        await SendAsync(server, ServerHarness.OpenPath("r1"), ServerHarness.OpenPath("r2"));
        await server.FlushAsync();

        var report = Parse(await GetAsync(server, "/api/campaigns/spring"));
        var future = Parse(await GetAsync(server, "/api/campaigns/spring?from=" + Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O"))));
        Assert.Equal(2, report.GetProperty("raw").GetProperty("opens").GetInt64());
        Assert.Equal(0, future.GetProperty("raw").GetProperty("opens").GetInt64());
        Assert.Equal(3, future.GetProperty("delivery").GetProperty("sent").GetInt64());

        using var bad = await server.Client.SendAsync(DashboardSecurityTests.Bearer("/api/campaigns/spring?from=someday"), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Downloads_are_attachments_in_the_report_formats()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);
        await SendAsync(server, ServerHarness.OpenPath("r1"), ServerHarness.ClickPath("r1"));
        await server.FlushAsync();

        using var csv = await server.Client.SendAsync(DashboardSecurityTests.Bearer("/api/campaigns/spring/report.csv"), Ct);
        using var json = await server.Client.SendAsync(DashboardSecurityTests.Bearer("/api/campaigns/spring/report.json"), Ct);
        using var recipients = await server.Client.SendAsync(DashboardSecurityTests.Bearer("/api/campaigns/spring/recipients.csv"), Ct);

        Assert.Equal("attachment; filename=\"spring-report.csv\"", csv.Content.Headers.ContentDisposition!.ToString());
        Assert.StartsWith("section,name,raw,human\n", await csv.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        Assert.Equal(1, JsonDocument.Parse(await json.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("raw").GetProperty("clicks").GetInt64());
        var rows = (await recipients.Content.ReadAsStringAsync(Ct)).TrimEnd('\n').Split('\n');
        Assert.Equal(RecipientExport.Header, rows[0]);
        Assert.Equal(6, rows.Length);
        Assert.StartsWith("r1@shop.example.com,r1,sent,", rows[1], StringComparison.Ordinal);
        Assert.Equal("attachment; filename=\"spring-recipients.csv\"", recipients.Content.Headers.ContentDisposition!.ToString());
    }

    [Fact]
    public async Task Live_stream_sends_progress_and_the_report()
    {
        await using var server = await ServerHarness.StartAsync(recipients: 5, sent: 3, dashboardToken: Token);
        using var request = DashboardSecurityTests.Bearer("/api/campaigns/spring/live");
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));

        var events = new Dictionary<string, string>();
        string? type = null;
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        while (events.Count < 2 && await reader.ReadLineAsync(bound.Token) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                type = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && type is not null)
            {
                events.TryAdd(type, line["data: ".Length..]);
            }
        }

        var progress = JsonDocument.Parse(events["progress"]).RootElement;
        Assert.Equal((5L, 3L, 2L, true), (progress.GetProperty("total").GetInt64(), progress.GetProperty("sent").GetInt64(), progress.GetProperty("pending").GetInt64(), progress.GetProperty("active").GetBoolean()));
        Assert.Equal("spring", JsonDocument.Parse(events["report"]).RootElement.GetProperty("campaign").GetString());
    }

    [Fact]
    public async Task A_report_slower_than_the_request_limit_is_a_503_not_a_hang()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token,
            configure: o => new TrackingServerOptions
            {
                Signer = o.Signer, Store = o.Store, Ledger = o.Ledger, Journal = o.Journal, Urls = o.Urls, DashboardToken = o.DashboardToken,
                Reports = new SlowReports(o.Reports!, TimeSpan.FromSeconds(20)),
                DashboardRequestTimeLimit = TimeSpan.FromMilliseconds(300),
            });

        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await server.Client.SendAsync(DashboardSecurityTests.Bearer("/api/campaigns/spring"), Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), watch.Elapsed.ToString());
    }

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static async Task<string> GetAsync(ServerHarness server, string path)
    {
        using var response = await server.Client.SendAsync(DashboardSecurityTests.Bearer(path), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private static async Task SendAsync(ServerHarness server, params string[] paths)
    {
        foreach (var path in paths)
        {
            using var response = await server.Client.SendAsync(ServerHarness.Get(path), Ct);
        }
    }

    private static async Task Until(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true within 30 s");
            await Task.Delay(100, Ct);
        }
    }
}

/// <summary>A report store whose campaign list answers late (a store under load), for the time limits.</summary>
internal sealed class SlowReports(IReportStore inner, TimeSpan delay) : IReportStore
{
    public Task MigrateAsync(CancellationToken cancellationToken) => inner.MigrateAsync(cancellationToken);

    public Task SaveLinksAsync(string campaignId, IReadOnlyList<LinkDefinition> links, CancellationToken cancellationToken) => inner.SaveLinksAsync(campaignId, links, cancellationToken);

    public Task<IReadOnlyList<LinkDefinition>> GetLinksAsync(string campaignId, CancellationToken cancellationToken) => inner.GetLinksAsync(campaignId, cancellationToken);

    public Task<IReadOnlyList<CampaignListing>> ListCampaignsAsync(CancellationToken cancellationToken) => inner.ListCampaignsAsync(cancellationToken);

    public async Task<DeliveryFacts?> GetDeliveryAsync(string campaignId, CancellationToken cancellationToken)
    {
        await Task.Delay(delay, cancellationToken);
        return await inner.GetDeliveryAsync(campaignId, cancellationToken);
    }

    public Task<BounceFacts> GetBouncesAsync(string campaignId, CancellationToken cancellationToken) => inner.GetBouncesAsync(campaignId, cancellationToken);

    public IAsyncEnumerable<BounceRow> ReadBouncesAsync(string campaignId, CancellationToken cancellationToken) => inner.ReadBouncesAsync(campaignId, cancellationToken);

    public Task<EventSpan?> GetEventSpanAsync(EventWindow window, CancellationToken cancellationToken) => inner.GetEventSpanAsync(window, cancellationToken);

    public IAsyncEnumerable<DeliveredRow> ReadDeliveredAsync(string campaignId, int part, int parts, CancellationToken cancellationToken) =>
        inner.ReadDeliveredAsync(campaignId, part, parts, cancellationToken);

    public Task<EventSpan?> GetDeliverySpanAsync(string campaignId, CancellationToken cancellationToken) => inner.GetDeliverySpanAsync(campaignId, cancellationToken);

    public Task<bool> PrefersEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken) => inner.PrefersEngagedDeliveriesAsync(window, cancellationToken);

    public IAsyncEnumerable<DeliveredRow> ReadEngagedDeliveriesAsync(EventWindow window, CancellationToken cancellationToken) => inner.ReadEngagedDeliveriesAsync(window, cancellationToken);

    public IAsyncEnumerable<LedgerEntry> ReadLedgerAsync(string campaignId, bool details, CancellationToken cancellationToken) => inner.ReadLedgerAsync(campaignId, details, cancellationToken);

    public IAsyncEnumerable<OpenSummary> ReadOpenSummariesAsync(EventWindow window, CancellationToken cancellationToken) => inner.ReadOpenSummariesAsync(window, cancellationToken);

    public Task<IReadOnlyList<HeavyRecipient>> FindHeavyClickersAsync(EventWindow window, int maxClicks, CancellationToken cancellationToken) => inner.FindHeavyClickersAsync(window, maxClicks, cancellationToken);

    public IAsyncEnumerable<ClickRow> ReadClicksAsync(EventWindow window, IReadOnlyCollection<string> excluded, IReadOnlySet<int>? withTarget, CancellationToken cancellationToken) =>
        inner.ReadClicksAsync(window, excluded, withTarget, cancellationToken);

    public Task<IReadOnlyList<LinkClickCount>> CountClicksByLinkAsync(EventWindow window, IReadOnlyCollection<string> recipients, IReadOnlySet<int>? withTarget, CancellationToken cancellationToken) =>
        inner.CountClicksByLinkAsync(window, recipients, withTarget, cancellationToken);

    public IAsyncEnumerable<UnsubscribeRow> ReadUnsubscribesAsync(EventWindow window, CancellationToken cancellationToken) => inner.ReadUnsubscribesAsync(window, cancellationToken);

    public Task<IReadOnlyList<BucketCount>> CountByBucketAsync(EventWindow window, TrackingEventKind kind, IReadOnlyList<DateTimeOffset> edges, IReadOnlyCollection<string>? recipients, CancellationToken cancellationToken) =>
        inner.CountByBucketAsync(window, kind, edges, recipients, cancellationToken);

    public IAsyncEnumerable<TrackingEvent> ReadEventsByTimeAsync(EventWindow window, CancellationToken cancellationToken) => inner.ReadEventsByTimeAsync(window, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
