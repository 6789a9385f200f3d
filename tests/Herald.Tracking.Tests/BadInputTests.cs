using System.Net;
using System.Text;

namespace Herald.Tracking.Tests;

/// <summary>Hostile and broken requests: a clean 4xx, nothing recorded, the server still serves.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private ServerHarness _server = null!;

    public async ValueTask InitializeAsync() => _server = await ServerHarness.StartAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<string> BadTokens()
    {
        var valid = ServerHarness.ClickPath()[3..];
        return new TheoryData<string>
        {
            "garbage",
            "!!!***",
            valid[..(valid.Length / 2)],
            valid[..^1],
            valid + "A",
            new string('A', 5000),
            ServerHarness.ClickPath(signer: new TokenSigner(new byte[32]))[3..],
            ServerHarness.ClickPath(target: "javascript:alert(1)")[3..],
            ServerHarness.ClickPath(campaign: "no-such-campaign")[3..],
            ServerHarness.ClickPath(campaign: "x'; DROP TABLE tracking_events; --")[3..],
            Uri.EscapeDataString("' OR 1=1 --"),
            Uri.EscapeDataString("<script>alert(1)</script>"),
        };
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Bad_click_token_gets_404_without_redirect_or_record(string token)
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get("/c/" + token), Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(response.Headers.Location);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("<script>", body, StringComparison.OrdinalIgnoreCase);
        await AssertNothingRecordedAsync();
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Bad_open_and_unsubscribe_tokens_get_404_without_record(string token)
    {
        using var open = await _server.Client.SendAsync(ServerHarness.Get("/o/" + token), Ct);
        using var page = await _server.Client.SendAsync(ServerHarness.Get("/u/" + token), Ct);
        using var post = await _server.Client.SendAsync(ServerHarness.OneClick("/u/" + token), Ct);

        Assert.Equal([HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound], [open.StatusCode, page.StatusCode, post.StatusCode]);
        await AssertNothingRecordedAsync();
    }

    [Fact]
    public async Task Token_of_another_kind_is_refused_on_each_endpoint()
    {
        using var clickOnOpen = await _server.Client.SendAsync(ServerHarness.Get("/o/" + ServerHarness.ClickPath()[3..]), Ct);
        using var openOnClick = await _server.Client.SendAsync(ServerHarness.Get("/c/" + ServerHarness.OpenPath()[3..]), Ct);
        using var openOnUnsubscribe = await _server.Client.SendAsync(ServerHarness.OneClick("/u/" + ServerHarness.OpenPath()[3..]), Ct);

        Assert.Equal(HttpStatusCode.NotFound, clickOnOpen.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, openOnClick.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, openOnUnsubscribe.StatusCode);
        await AssertNothingRecordedAsync();
    }

    [Fact]
    public async Task Huge_unsubscribe_body_is_refused_with_413()
    {
        var huge = "List-Unsubscribe=One-Click&junk=" + new string('x', 2 * 1024 * 1024);
        using var request = new HttpRequestMessage(HttpMethod.Post, ServerHarness.UnsubscribePath())
        {
            Content = new StringContent(huge, Encoding.ASCII, "application/x-www-form-urlencoded"),
        };

        using var response = await _server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertNothingRecordedAsync();
    }

    [Fact]
    public async Task Huge_chunked_body_without_length_is_refused_with_413()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ServerHarness.UnsubscribePath())
        {
            Content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("List-Unsubscribe=One-Click&junk=" + new string('x', 1024 * 1024)))),
        };
        request.Content.Headers.ContentType = new("application/x-www-form-urlencoded");
        request.Headers.TransferEncodingChunked = true;

        using var response = await _server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertNothingRecordedAsync();
    }

    [Fact]
    public async Task Sql_and_script_text_in_query_and_headers_change_nothing()
    {
        using var request = ServerHarness.Get("/c/" + Uri.EscapeDataString("1; DELETE FROM suppressions") + "?q=%27%20OR%201%3D1--&x=%3Cscript%3E", "<script>alert(1)</script>' OR 1=1 --");

        using var response = await _server.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await AssertNothingRecordedAsync();
        Assert.Equal("ok", await _server.Client.GetStringAsync("/healthz", Ct));
    }

    [Fact]
    public async Task Over_long_url_is_refused_by_the_server_with_a_4xx()
    {
        using var response = await _server.Client.SendAsync(ServerHarness.Get("/c/" + new string('A', 20_000)), Ct);

        Assert.InRange((int)response.StatusCode, 400, 499);
        await AssertNothingRecordedAsync();
    }

    private async Task AssertNothingRecordedAsync()
    {
        await _server.FlushAsync();
        Assert.Equal(0, await _server.AllEventCountAsync());
        var suppressed = 0;
        await foreach (var entry in _server.Store.ListSuppressionsAsync(Ct))
        {
            suppressed++;
        }

        Assert.Equal(0, suppressed);
    }
}
