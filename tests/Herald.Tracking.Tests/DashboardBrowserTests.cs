using Herald.Store;
using Microsoft.Playwright;

namespace Herald.Tracking.Tests;

/// <summary>
/// The dashboard in a real headless browser: Debian's chromium driven by Playwright (never a downloaded browser).
/// </summary>
public sealed class DashboardBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Token = "browser-dashboard-token";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dashboard_logs_in_and_draws_the_campaign_charts_with_its_numbers()
    {
        if (!File.Exists(Chromium))
        {
            Assert.Skip($"{Chromium} is missing: install Debian's chromium package (apt-get install chromium) to run the browser test.");
        }

        await using var server = await ServerHarness.StartAsync(recipients: 8, sent: 6, dashboardToken: Token);
        await SeedEventsAsync(server.Sqlite);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Timeout = 30_000,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        });
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(15_000);

        await page.GotoAsync(server.BaseAddress.ToString());
        await page.FillAsync("#token", "wrong");
        await page.ClickAsync("#login");
        await page.Locator("#login-error").WaitForAsync();
        await page.FillAsync("#token", Token);
        await page.ClickAsync("#login");

        await page.Locator("#detail[data-loaded='spring']").WaitForAsync();
        Assert.Equal("8", await page.GetAttributeAsync("#funnel rect[data-step='Recipients']", "data-value"));
        Assert.Equal("6", await page.GetAttributeAsync("#funnel rect[data-step='Sent']", "data-value"));
        Assert.Equal("3", await page.GetAttributeAsync("#funnel rect[data-step='Opened (human)']", "data-value"));
        Assert.Equal("2", await page.GetAttributeAsync("#funnel rect[data-step='Clicked (human)']", "data-value"));
        Assert.Equal("1", await page.InnerTextAsync("#unsubscribes"));
        Assert.Equal("5", await page.GetAttributeAsync("#timeline polyline[data-series='opens']", "data-total"));
        Assert.Equal("3", await page.GetAttributeAsync("#timeline polyline[data-series='clicks']", "data-total"));
        Assert.Equal("2", await page.GetAttributeAsync("#timeline polyline[data-series='human_clicks']", "data-total"));
        var points = await page.GetAttributeAsync("#timeline polyline[data-series='opens']", "points");
        Assert.Equal(2, points!.Split(' ').Length);
        var funnelBox = await page.Locator("#funnel rect[data-step='Sent']").BoundingBoxAsync();
        Assert.True(funnelBox is { Width: > 10 }, "the funnel bar must be drawn with a visible width");
        var links = await page.Locator("#links tbody tr").AllInnerTextsAsync();
        Assert.Equal(2, links.Count);
        Assert.StartsWith("https://shop.example.com/shoes", links[0], StringComparison.Ordinal);
        Assert.Contains("spring", await page.InnerTextAsync("#campaigns"), StringComparison.Ordinal);
    }

    private static async Task SeedEventsAsync(ITrackingStore store)
    {
        // Two hours after delivery, in two hourly buckets, so no early-click flag applies.
        var t0 = DateTimeOffset.UtcNow.AddHours(2);
        t0 = new DateTimeOffset(t0.Year, t0.Month, t0.Day, t0.Hour, 10, 0, TimeSpan.Zero);
        TrackingEvent E(TrackingEventKind kind, string r, double hours, int link = 0, EventFlags flags = EventFlags.None) =>
            new(Guid.CreateVersion7(), t0.AddHours(hours), kind, ServerHarness.Campaign, r, link,
                link == 1 ? "https://shop.example.com/shoes" : link == 2 ? "https://shop.example.com/bags" : null,
                "GET", "Mozilla/5.0 (X11) Chrome/126", "203.0.113.0/24", flags);
        await store.AppendEventsAsync(
        [
            E(TrackingEventKind.Open, "r1", 0),
            E(TrackingEventKind.Open, "r2", 0.1),
            E(TrackingEventKind.Open, "r3", 1),
            E(TrackingEventKind.Open, "r3", 1.1),
            E(TrackingEventKind.Open, "r4", 1.2, flags: EventFlags.AppleMpp),
            E(TrackingEventKind.Click, "r1", 0.2, link: 1),
            E(TrackingEventKind.Click, "r2", 1.3, link: 2),
            E(TrackingEventKind.Click, "r5", 1.4, link: 1, flags: EventFlags.Scanner),
            E(TrackingEventKind.Unsubscribe, "r3", 1.5),
        ], Ct);
    }
}
