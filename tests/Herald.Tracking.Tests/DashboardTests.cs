using System.Net;
using System.Text.Json;

namespace Herald.Tracking.Tests;

/// <summary>The dashboard is private: the token from the configuration, as a login cookie or a bearer token.</summary>
public sealed class DashboardTests
{
    private const string Token = "dashboard-secret-1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Without_the_token_only_the_login_page_is_served()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);

        var home = await server.Client.GetStringAsync("/", Ct);
        using var api = await server.Client.GetAsync("/api/campaigns", Ct);
        using var wrong = await server.Client.PostAsync("/login", new FormUrlEncodedContent([new("token", "guess")]), Ct);

        Assert.Contains("<form method=\"post\" action=\"/login\">", home, StringComparison.Ordinal);
        Assert.DoesNotContain("/api/campaigns", home, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.False(wrong.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Login_sets_an_http_only_cookie_that_does_not_contain_the_token()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);

        using var login = await server.Client.PostAsync("/login", new FormUrlEncodedContent([new("token", Token)]), Ct);

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, cookie, StringComparison.Ordinal);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/campaigns");
        request.Headers.Add("Cookie", cookie.Split(';')[0]);
        using var api = await server.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, api.StatusCode);
    }

    [Fact]
    public async Task Bearer_token_reads_the_campaign_report()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);
        using (await server.Client.SendAsync(ServerHarness.Get(ServerHarness.OpenPath("r1")), Ct))
        {
        }

        await server.FlushAsync();

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/campaigns/spring");
        request.Headers.Authorization = new("Bearer", Token);
        using var response = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal(3, json.RootElement.GetProperty("delivery").GetProperty("sent").GetInt64());
        Assert.Equal(1, json.RootElement.GetProperty("raw").GetProperty("opens").GetInt64());
    }

    [Fact]
    public async Task Unknown_campaign_is_a_404_problem()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/campaigns/" + Uri.EscapeDataString("x' OR '1'='1"));
        request.Headers.Authorization = new("Bearer", Token);

        using var response = await server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Dashboard_is_off_without_a_configured_token_while_tracking_stays_up()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: null);

        using var home = await server.Client.GetAsync("/", Ct);
        using var login = await server.Client.PostAsync("/login", new FormUrlEncodedContent([new("token", "")]), Ct);
        using var click = await server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct);

        Assert.Equal(HttpStatusCode.NotFound, home.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, login.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, click.StatusCode);
    }
}
