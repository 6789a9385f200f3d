using System.Net;
using Herald.Store;

namespace Herald.Tracking.Tests;

public sealed class TrackingEndpointsTests : IAsyncLifetime
{
    private ServerHarness _server = null!;

    public async ValueTask InitializeAsync() => _server = await ServerHarness.StartAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Click_redirects_to_the_signed_target_and_records_one_click()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath("r2", 3, "https://shop.example.com/sale?x=1&y=2")), Ct);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("https://shop.example.com/sale?x=1&y=2", response.Headers.Location!.OriginalString);
        await _server.FlushAsync();
        var click = Assert.Single(await _server.EventsAsync());
        Assert.Equal((TrackingEventKind.Click, "r2", 3, "https://shop.example.com/sale?x=1&y=2", "GET", EventFlags.None),
            (click.Kind, click.RecipientId, click.LinkNumber, click.Target, click.Method, click.Flags));
        Assert.StartsWith("Mozilla/5.0 (X11", click.UserAgent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Client_address_is_kept_only_as_its_network()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct);
        await _server.FlushAsync();

        var click = Assert.Single(await _server.EventsAsync());
        Assert.Equal("127.0.0.0/24", click.ClientNetwork);
    }

    [Fact]
    public async Task Head_click_redirects_but_is_flagged_not_human()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(), method: HttpMethod.Head), Ct);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        await _server.FlushAsync();
        var click = Assert.Single(await _server.EventsAsync());
        Assert.Equal("HEAD", click.Method);
        Assert.True(click.Flags.HasFlag(EventFlags.Head));
    }

    [Theory]
    [InlineData("Mozilla/5.0 (compatible; Barracuda Sentinel)")]
    [InlineData("python-requests/2.31")]
    [InlineData(null)]
    public async Task Scanner_or_missing_agent_is_flagged_scanner(string? agent)
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath(), agent), Ct);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        await _server.FlushAsync();
        Assert.Equal(EventFlags.Scanner, Assert.Single(await _server.EventsAsync()).Flags);
    }

    [Fact]
    public async Task Open_returns_an_uncacheable_gif_and_records_the_open()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.OpenPath("r3")), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/gif", response.Content.Headers.ContentType!.MediaType);
        Assert.True(response.Headers.CacheControl!.NoStore);
        var body = await response.Content.ReadAsByteArrayAsync(Ct);
        Assert.Equal("GIF89a"u8.ToArray(), body[..6]);
        await _server.FlushAsync();
        var open = Assert.Single(await _server.EventsAsync());
        Assert.Equal((TrackingEventKind.Open, "r3", EventFlags.None), (open.Kind, open.RecipientId, open.Flags));
    }

    [Fact]
    public async Task Apple_privacy_proxy_open_is_flagged()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.OpenPath(), "Mozilla/5.0"), Ct);
        await _server.FlushAsync();

        Assert.Equal(EventFlags.AppleMpp, Assert.Single(await _server.EventsAsync()).Flags);
    }

    [Fact]
    public async Task Unsubscribe_get_shows_a_confirmation_form_and_changes_nothing()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.UnsubscribePath("r1")), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.Contains("<form method=\"post\"", html, StringComparison.Ordinal);
        Assert.Contains("name=\"List-Unsubscribe\" value=\"One-Click\"", html, StringComparison.Ordinal);
        await _server.FlushAsync();
        Assert.Empty(await _server.EventsAsync());
        Assert.Empty(await _server.Store.FindSuppressedAsync(["r1@shop.example.com"], Ct));
    }

    [Fact]
    public async Task One_click_post_unsubscribes_and_suppresses_the_address_idempotently()
    {
        using var first = await _server.Client.SendAsync(ServerHarness.OneClick(ServerHarness.UnsubscribePath("r4")), Ct);
        using var second = await _server.Client.SendAsync(ServerHarness.OneClick(ServerHarness.UnsubscribePath("r4")), Ct);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Null(first.Headers.Location);
        await _server.FlushAsync();
        Assert.Equal(["r4@shop.example.com"], await _server.Store.FindSuppressedAsync(["r4@shop.example.com", "r1@shop.example.com"], Ct));
        var entries = new List<SuppressionEntry>();
        await foreach (var entry in _server.Store.ListSuppressionsAsync(Ct))
        {
            entries.Add(entry);
        }

        var only = Assert.Single(entries);
        Assert.Equal((SuppressionReason.Unsubscribed, "spring"), (only.Reason, only.CampaignId));
    }

    [Fact]
    public async Task Post_without_the_one_click_body_is_rejected_and_changes_nothing()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ServerHarness.UnsubscribePath()) { Content = new FormUrlEncodedContent([new("List-Unsubscribe", "yes")]) };

        using var response = await _server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        await _server.FlushAsync();
        Assert.Equal(0, await _server.AllEventCountAsync());
    }

    [Fact]
    public async Task Events_reach_the_store_within_the_flush_interval_without_an_explicit_flush()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.OpenPath()), Ct);

        // Bounded poll: the writer's own timer is what is under test here.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while ((await _server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Opens == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, Ct);
        }

        Assert.Equal(1, (await _server.Sqlite.GetEventCountsAsync(ServerHarness.Campaign, Ct)).Opens);
    }

    [Fact]
    public async Task Health_and_prometheus_metrics_are_served()
    {
        using var click = await _server.Client.SendAsync(ServerHarness.Get(ServerHarness.ClickPath()), Ct);
        using var bad = await _server.Client.SendAsync(ServerHarness.Get("/c/garbage"), Ct);
        await _server.FlushAsync();

        Assert.Equal("ok", await _server.Client.GetStringAsync("/healthz", Ct));
        var metrics = await _server.Client.GetStringAsync("/metrics", Ct);

        Assert.Contains("herald_tracking_requests_total{endpoint=\"click\",outcome=\"ok\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("herald_tracking_requests_total{endpoint=\"click\",outcome=\"rejected\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("herald_events_written_total 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE herald_redirect_duration_seconds histogram", metrics, StringComparison.Ordinal);
        Assert.Contains("herald_redirect_duration_seconds_bucket{le=\"+Inf\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("herald_redirect_duration_seconds_count 1\n", metrics, StringComparison.Ordinal);
    }
}
