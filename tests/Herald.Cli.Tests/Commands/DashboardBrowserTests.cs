using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using MimeKit;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// The dashboard end to end, in Debian's chromium driven by Playwright (never a downloaded browser): real
/// <c>herald prepare</c>, <c>serve</c>, <c>send</c> (to a real sink) and <c>report</c> processes; clicks and opens
/// taken from the delivered messages. The page must update while the send runs and, at the end, show exactly the
/// numbers of <c>herald report --json</c>. Screenshots are kept in <c>bin/…/screenshots</c>.
/// </summary>
public sealed partial class DashboardBrowserTests : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Secret = "dashboard-e2e-secret-0123456789";
    private const string DashboardToken = "dashboard-e2e-token";
    private const int Recipients = 200;
    private const string Chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(90);
    private static readonly LocatorWaitForOptions Attached = new() { State = WaitForSelectorState.Attached };
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-dashboard-e2e-").FullName;
    private readonly string _shots = Path.Combine(AppContext.BaseDirectory, "screenshots");
    private readonly Dictionary<string, string> _env;

    public DashboardBrowserTests() =>
        _env = new() { ["HERALD_SECRET"] = Secret, ["HERALD_DASHBOARD_TOKEN"] = DashboardToken, ["HERALD_DB"] = Path.Combine(_dir, "herald.db") };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Db => Path.Combine(_dir, "herald.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Dashboard_follows_a_live_send_and_shows_the_numbers_of_herald_report()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: .ci/run installs Debian's chromium package.");
        Directory.CreateDirectory(_shots);
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--out", Path.Combine(_dir, "eml"));
        Process? serve = null;
        Process? send = null;
        try
        {
            var sinkPort = await HeraldProcess.ReadSinkPortAsync(sink);
            var spring = WriteCampaign("spring", Recipients, "http://127.0.0.1:1", sinkPort);
            var autumn = WriteCampaign("autumn", 40, "http://127.0.0.1:1", sinkPort);
            await RunAsync("prepare", spring);
            await RunAsync("prepare", autumn);

            serve = HeraldProcess.Start(_env, "serve", "--db", Db, "--urls", "http://127.0.0.1:0");
            var baseUrl = await ReadListeningAsync(serve);
            // Tracking settings are not part of the plan: point the links at this server now.
            WriteCampaign("spring", Recipients, baseUrl, sinkPort);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Chromium,
                Headless = true,
                Timeout = 30_000,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1360, Height = 900 } });
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(30_000);
            var consoleErrors = new List<string>();
            page.Console += (_, message) => { if (message.Type == "error") { consoleErrors.Add(message.Text); } };

            await page.GotoAsync(baseUrl + "/");
            await page.FillAsync("#token", "wrong");
            await page.ClickAsync("#login");
            await page.Locator("#login-error").WaitForAsync();
            await Shot(page, "1-login");
            await page.FillAsync("#token", DashboardToken);
            await page.ClickAsync("#login");
            consoleErrors.Clear(); // the wrong token's 401 above is logged by the browser as a failed load

            // Overview: both campaigns, sortable.
            await page.Locator("table.campaigns tr[data-campaign='autumn']").WaitForAsync();
            await page.ClickAsync("th[data-sort='recipients']");
            Assert.Equal(["spring", "autumn"], await CampaignOrderAsync(page));
            await page.ClickAsync("th[data-sort='recipients']");
            Assert.Equal(["autumn", "spring"], await CampaignOrderAsync(page));
            await Shot(page, "2-overview-before-send");

            await page.ClickAsync("tr[data-campaign='spring'] a");
            await page.Locator("#detail[data-loaded='spring']").WaitForAsync(Attached);
            Assert.Equal("0", await page.GetAttributeAsync("[data-metric='delivery.sent']", "data-value"));
            Assert.Equal("planned", await page.GetAttributeAsync("#status", "data-status"));

            // The send runs (rate-limited, about ten seconds) while the page is open: it must follow without a reload.
            send = HeraldProcess.Start(_env, "send", spring);
            var firstSeen = await WaitForMetricAsync(page, "progress.sent", v => v > 0 && v < Recipients);
            await WaitForMetricAsync(page, "progress.sent", v => v > firstSeen && v < Recipients);
            Assert.Equal("true", await page.GetAttributeAsync("#progress .progress", "data-active"));
            Assert.Equal("sending", await page.GetAttributeAsync("#status", "data-status"));
            // The report part follows too: the delivered count grows without a reload.
            await WaitForMetricAsync(page, "delivery.sent", v => v > 0 && v < Recipients);
            await Shot(page, "3-campaign-while-sending");

            // Engagement arrives while the send goes on: opens of the first delivered messages.
            var delivered = await DeliveredAsync(baseUrl, atLeast: 20);
            foreach (var message in delivered.Take(10))
            {
                await HitAsync(HttpMethod.Get, message.Open, Chrome);
            }

            await WaitForMetricAsync(page, "raw.unique_opens", v => v >= 10);
            await send.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            Assert.Equal(0, send.ExitCode);
            await WaitForMetricAsync(page, "progress.sent", v => v == Recipients);

            // After the send: people, Apple's proxy, a scanner, a link checker and two unsubscribes.
            delivered = await DeliveredAsync(baseUrl, atLeast: Recipients);
            var expectedClicks = 0;
            for (var i = 0; i < 80; i++)
            {
                var m = delivered[i];
                await HitAsync(HttpMethod.Get, m.Open, i % 4 == 0 ? "Mozilla/5.0" : Chrome);
                if (i % 3 == 0)
                {
                    await HitAsync(HttpMethod.Get, m.Clicks[1], Chrome);
                    expectedClicks++;
                }

                if (i % 7 == 0)
                {
                    foreach (var link in m.Clicks)
                    {
                        await HitAsync(HttpMethod.Get, link, "curl/8.5.0");
                        expectedClicks++;
                    }
                }

                if (i % 11 == 0)
                {
                    await HitAsync(HttpMethod.Head, m.Clicks[0], Chrome);
                    expectedClicks++;
                }
            }

            await UnsubscribeAsync(delivered[5].Unsubscribe);
            await UnsubscribeAsync(delivered[6].Unsubscribe);

            // The report command (another process, same store) once every event is written.
            JsonElement report = default;
            var deadline = DateTime.UtcNow + Bound;
            do
            {
                Assert.True(DateTime.UtcNow < deadline, "the events did not reach the store in time");
                var json = await RunAsync("report", spring, "--json");
                report = JsonDocument.Parse(json).RootElement.Clone();
            }
            while (report.GetProperty("raw").GetProperty("clicks").GetInt64() < expectedClicks || report.GetProperty("raw").GetProperty("unsubscribes").GetInt64() < 2);

            await page.ReloadAsync();
            await page.Locator("#detail[data-loaded='spring']").WaitForAsync(Attached);
            await WaitForMetricAsync(page, "raw.unsubscribes", v => v == 2);
            var compared = await CompareWithReportAsync(page, report);
            Assert.True(compared >= 40, $"only {compared} numbers on the page were compared");
            var products = report.GetProperty("links").EnumerateArray().Single(l => l.GetProperty("personalized").GetBoolean());
            Assert.True(products.GetProperty("targets").GetArrayLength() > 1, "the personalized link lists its targets");
            Assert.Equal("Hero: spring sale", await page.InnerTextAsync("tr[data-link='1'] .linklabel"));
            await Shot(page, "4-campaign-after-send", fullPage: true);

            // Downloads use the session of the page.
            var csv = await context.APIRequest.GetAsync(baseUrl + await page.GetAttributeAsync("#download-csv", "href"));
            var recipients = await context.APIRequest.GetAsync(baseUrl + await page.GetAttributeAsync("#download-recipients", "href"));
            Assert.Equal((200, 200), (csv.Status, recipients.Status));
            Assert.StartsWith("section,name,raw,human", await csv.TextAsync(), StringComparison.Ordinal);
            Assert.Equal(Recipients + 1, (await recipients.TextAsync()).TrimEnd('\n').Split('\n').Length);

            await page.GotoAsync(baseUrl + "/#/");
            await page.Locator("tr[data-campaign='spring'] td[data-rate='open_rate']").WaitForAsync();
            await Shot(page, "5-overview-after-send");

            // The overview follows engagement that arrives later, in place, without a reload.
            const string unsubscribeRate = "tr[data-campaign='spring'] td[data-rate='unsubscribe_rate']";
            var shown = await page.InnerTextAsync(unsubscribeRate);
            Assert.StartsWith("1.0%", shown, StringComparison.Ordinal);
            await UnsubscribeAsync(delivered[7].Unsubscribe);
            var overviewDeadline = DateTime.UtcNow + Bound;
            while ((shown = await page.InnerTextAsync(unsubscribeRate)).StartsWith("1.0%", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < overviewDeadline, $"the overview still shows {shown} after a third unsubscribe");
                await page.WaitForTimeoutAsync(250);
            }

            Assert.StartsWith("1.5%", shown, StringComparison.Ordinal);
            Assert.Empty(consoleErrors);
        }
        finally
        {
            foreach (var process in new[] { send, serve, sink })
            {
                if (process is not null)
                {
                    HeraldProcess.KillQuietly(process);
                    process.Dispose();
                }
            }
        }
    }

    /// <summary>Every number the page marks with <c>data-metric</c> must be the report's; returns how many were compared.</summary>
    private static async Task<int> CompareWithReportAsync(IPage page, JsonElement report)
    {
        var metrics = await page.EvalOnSelectorAllAsync<string[][]>("[data-metric]", "els => els.map(e => [e.dataset.metric, e.dataset.value])");
        var compared = 0;
        foreach (var pair in metrics)
        {
            var (name, value) = (pair[0], pair[1]);
            if (name.StartsWith("progress.", StringComparison.Ordinal))
            {
                continue;
            }

            var expected = Lookup(report, name);
            if (expected.ValueKind == JsonValueKind.Null)
            {
                Assert.True(value.Length == 0, $"{name}: the page shows {value}, the report has none");
            }
            else
            {
                Assert.True(double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var shown), $"{name}: '{value}' is not a number");
                Assert.True(Math.Abs(shown - expected.GetDouble()) < 1e-9, $"{name}: the page shows {shown}, herald report --json has {expected.GetDouble()}");
            }

            compared++;
        }

        return compared;
    }

    private static JsonElement Lookup(JsonElement report, string name)
    {
        var parts = name.Split('.');
        return parts[0] switch
        {
            "links" => report.GetProperty("links").EnumerateArray().Single(l => l.GetProperty("link_number").GetInt32().ToString(CultureInfo.InvariantCulture) == parts[1]).GetProperty(parts[2]),
            "first-open" => report.GetProperty("time_to_first_open").GetProperty("human").GetProperty(parts[1] == "median" ? "median_seconds" : parts[1]),
            "first-click" => report.GetProperty("time_to_first_click").GetProperty("human").GetProperty(parts[1] == "median" ? "median_seconds" : parts[1]),
            "delivery" when parts[1] == "pending" => JsonSerializer.SerializeToElement(report.GetProperty("delivery").GetProperty("pending").GetInt64() + report.GetProperty("delivery").GetProperty("sending").GetInt64()),
            _ => parts.Aggregate(report, (e, p) => e.GetProperty(p)),
        };
    }

    private static async Task<double> WaitForMetricAsync(IPage page, string name, Func<double, bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            var value = await page.EvaluateAsync<string?>($"() => {{ const e = document.querySelector(\"[data-metric='{name}']\"); return e ? e.dataset.value : null; }}");
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && condition(number))
            {
                return number;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{name} never met the condition (last: {value ?? "absent"})");
            await page.WaitForTimeoutAsync(100);
        }
    }

    private static async Task<string[]> CampaignOrderAsync(IPage page) =>
        [.. (await page.EvalOnSelectorAllAsync<string[]>("table.campaigns tbody tr", "rows => rows.map(r => r.dataset.campaign)"))];

    private async Task Shot(IPage page, string name, bool fullPage = false) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(_shots, name + ".png"), FullPage = fullPage });

    private string WriteCampaign(string id, int recipients, string baseUrl, int sinkPort)
    {
        var folder = Path.Combine(_dir, id);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "campaign.yml"), $"""
            id: {id}
            from: "Example Shop <news@shop.example.com>"
            subject: "{"{{"} first_name {"}}"}, your spring picks"
            html: body.html
            recipients: recipients.csv
            tracking: {"{"} base_url: "{baseUrl}", clicks: true, opens: true {"}"}
            postal_address: "Example Shop Inc., 1 Market St, Springfield"
            relays:
              - url: smtp://127.0.0.1:{sinkPort}
                connections: 2
                rate_limit: 20
            """);
        File.WriteAllText(Path.Combine(folder, "body.html"), """
            <html><body>
            <h1>Spring picks for {{ first_name }}</h1>
            <p><a href="https://shop.example.com/spring" data-herald-label="Hero: spring sale"><img src="https://shop.example.com/hero.png" alt="Spring sale"></a></p>
            <p><a href="https://shop.example.com/{{ category }}/{{ item }}">Your pick: {{ item }}</a></p>
            <p><a href="https://shop.example.com/stores">Find a store</a></p>
            <p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · {{ postal_address }}</p>
            </body></html>
            """);
        var csv = new StringBuilder("email,first_name,category,item\n");
        for (var i = 0; i < recipients; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{id}{i}@example.com,Name{i},{(i % 2 == 0 ? "kitchen" : "garden")},item-{i % 3}\n");
        }

        File.WriteAllText(Path.Combine(folder, "recipients.csv"), csv.ToString());
        return Path.Combine(folder, "campaign.yml");
    }

    private async Task<string> RunAsync(params string[] args)
    {
        using var process = HeraldProcess.Start(_env, args);
        var output = process.StandardOutput.ReadToEndAsync(Ct);
        var error = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
        Assert.True(process.ExitCode == 0, $"herald {string.Join(' ', args)}: {await error}");
        return await output;
    }

    private static async Task<string> ReadListeningAsync(Process serve)
    {
        // The first line names the store; then the addresses.
        while (await serve.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(Bound, Ct) is { } line)
        {
            if (line.StartsWith("listening on http://127.0.0.1:", StringComparison.Ordinal))
            {
                return line["listening on ".Length..];
            }
        }

        Assert.Fail("serve ended before it listened");
        return string.Empty;
    }

    /// <summary>The tracking URLs of the messages the sink has received so far (at least <paramref name="atLeast"/>).</summary>
    private async Task<List<Delivered>> DeliveredAsync(string baseUrl, int atLeast)
    {
        var folder = Path.Combine(_dir, "eml");
        var deadline = DateTime.UtcNow + Bound;
        while (!Directory.Exists(folder) || Directory.GetFiles(folder, "*.eml").Length < atLeast)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fewer than {atLeast} messages arrived");
            await Task.Delay(100, Ct);
        }

        var result = new List<Delivered>();
        foreach (var file in Directory.GetFiles(folder, "*.eml").Order(StringComparer.Ordinal))
        {
            using var message = await MimeMessage.LoadAsync(file, Ct);
            var html = message.HtmlBody ?? string.Empty;
            var clicks = ClickUrl().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Where(u => u.StartsWith(baseUrl, StringComparison.Ordinal)).ToList();
            var open = OpenUrl().Match(html).Groups[1].Value;
            var unsubscribe = (message.Headers["List-Unsubscribe"] ?? string.Empty).Split(',')[0].Trim('<', '>', ' ');
            result.Add(new Delivered(clicks, WebUtility.HtmlDecode(open), unsubscribe));
        }

        Assert.All(result, d => Assert.Equal(3, d.Clicks.Count));
        return result;
    }

    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };

    private static async Task HitAsync(HttpMethod method, string url, string userAgent)
    {
        using var request = new HttpRequestMessage(method, url);
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        using var response = await Http.SendAsync(request, Ct);
        Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.OK, $"{method} {url}: {response.StatusCode}");
    }

    private static async Task UnsubscribeAsync(string url)
    {
        using var response = await Http.PostAsync(url, new FormUrlEncodedContent([new("List-Unsubscribe", "One-Click")]), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [GeneratedRegex("href=\"(http[^\"]+/c/[^\"]+)\"")]
    private static partial Regex ClickUrl();

    [GeneratedRegex("src=\"(http[^\"]+/o/[^\"]+)\"")]
    private static partial Regex OpenUrl();

    private sealed record Delivered(List<string> Clicks, string Open, string Unsubscribe);
}
