using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking.Tests;

/// <summary>The dashboard is secure by default: strict headers, throttled logins, sessions that end, a private /metrics.</summary>
public sealed class DashboardSecurityTests
{
    private const string Token = "dashboard-secret-1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/")]
    [InlineData("/assets/dashboard.js")]
    [InlineData("/api/campaigns")]
    public async Task Dashboard_responses_forbid_inline_code_other_origins_and_framing(string path)
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);

        using var response = await server.Client.SendAsync(Bearer(path), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
    }

    [Fact]
    public async Task Pages_have_no_inline_script_or_style_so_the_policy_can_forbid_them()
    {
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token);

        var login = await server.Client.GetStringAsync("/", Ct);
        using var app = await server.Client.SendAsync(Bearer("/"), Ct);
        var appHtml = await app.Content.ReadAsStringAsync(Ct);

        foreach (var html in new[] { login, appHtml })
        {
            Assert.DoesNotContain("<style", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("style=", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch("<script(?![^>]*src=)", html);
            Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
            Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        }

        Assert.Contains("<script src=\"/assets/dashboard.js\"></script>", appHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Failed_logins_are_counted_logged_and_throttled_per_client()
    {
        var logs = new ConcurrentQueue<string>();
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token, configure: o => With(o, failures: 3),
            logging: l => l.AddProvider(new CapturingLoggerProvider(logs)));

        for (var i = 0; i < 3; i++)
        {
            using var wrong = await server.Client.PostAsync("/login", Form("guess-" + i), Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        // Past the allowance even the right token waits: a guesser cannot tell a hit from a miss.
        using var blocked = await server.Client.PostAsync("/login", Form(Token), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.True(blocked.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.False(blocked.Headers.Contains("Set-Cookie"));

        // Another client (another loopback address) is not affected.
        using var other = OtherClient(server, IPAddress.Parse("127.0.0.2"));
        using var ok = await other.PostAsync("/login", Form(Token), Ct);
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);

        var metrics = await server.Client.GetStringAsync("/metrics", Ct);
        Assert.Contains("herald_dashboard_login_failures_total 3", metrics, StringComparison.Ordinal);
        Assert.Contains("herald_dashboard_logins_throttled_total 1", metrics, StringComparison.Ordinal);
        Assert.Equal(3, logs.Count(l => l.Contains("dashboard login failed from 127.0.0.0/24", StringComparison.Ordinal)));
        Assert.Contains(logs, l => l.Contains("too many failures from 127.0.0.0/24", StringComparison.Ordinal));
        Assert.DoesNotContain(logs, l => l.Contains("guess-", StringComparison.Ordinal) || l.Contains(Token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Wrong_bearer_tokens_on_the_api_and_metrics_are_failed_logins_too()
    {
        var logs = new ConcurrentQueue<string>();
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token, configure: o => With(o, failures: 3, metricsToken: "metrics-secret-9"),
            logging: l => l.AddProvider(new CapturingLoggerProvider(logs)));

        for (var i = 0; i < 2; i++)
        {
            using var wrong = await server.Client.SendAsync(Bearer("/api/campaigns", "guess-" + i), Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var wrongMetrics = await server.Client.SendAsync(Bearer("/metrics", "guess-m"), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongMetrics.StatusCode);

        // The allowance is shared by every way of presenting a token; past it even the right one waits.
        using var blocked = await server.Client.SendAsync(Bearer("/api/campaigns"), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.True(blocked.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        using var blockedForm = await server.Client.PostAsync("/login", Form(Token), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, blockedForm.StatusCode);

        using var other = OtherClient(server, IPAddress.Parse("127.0.0.2"));
        using var ok = await other.SendAsync(Bearer("/api/campaigns"), Ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var metricsRequest = Bearer("/metrics", "metrics-secret-9");
        var metrics = await (await other.SendAsync(metricsRequest, Ct)).Content.ReadAsStringAsync(Ct);
        Assert.Contains("herald_dashboard_login_failures_total 3", metrics, StringComparison.Ordinal);
        Assert.Contains("herald_dashboard_logins_throttled_total 2", metrics, StringComparison.Ordinal);
        Assert.Equal(3, logs.Count(l => l.Contains("dashboard login failed from 127.0.0.0/24", StringComparison.Ordinal)));
        Assert.DoesNotContain(logs, l => l.Contains("guess-", StringComparison.Ordinal) || l.Contains(Token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_session_cookie_expires_and_cannot_be_extended_by_the_client()
    {
        var clock = new Clock();
        await using var server = await ServerHarness.StartAsync(dashboardToken: Token,
            configure: o => With(o, time: clock, session: TimeSpan.FromMinutes(30)));

        using var login = await server.Client.PostAsync("/login", Form(Token), Ct);
        var setCookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("max-age=1800", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, setCookie, StringComparison.Ordinal);
        var cookie = setCookie.Split(';')[0];

        Assert.Equal(HttpStatusCode.OK, (await WithCookieAsync(server, cookie)).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(HttpStatusCode.OK, (await WithCookieAsync(server, cookie)).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(HttpStatusCode.Unauthorized, (await WithCookieAsync(server, cookie)).StatusCode);

        // A cookie whose expiry was edited no longer carries a valid MAC.
        var value = cookie[(cookie.IndexOf('=', StringComparison.Ordinal) + 1)..];
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(value);
        bytes[3] ^= 0x7F;
        Assert.Equal(HttpStatusCode.Unauthorized, (await WithCookieAsync(server, $"{DashboardAuth.CookieName}={System.Buffers.Text.Base64Url.EncodeToString(bytes)}")).StatusCode);
    }

    [Fact]
    public async Task Metrics_need_their_own_token_when_one_is_configured()
    {
        await using var open = await ServerHarness.StartAsync(dashboardToken: Token);
        await using var closed = await ServerHarness.StartAsync(dashboardToken: Token, configure: o => With(o, metricsToken: "metrics-secret-9"));

        using var anonymous = await closed.Client.GetAsync("/metrics", Ct);
        using var dashboardToken = await closed.Client.SendAsync(Bearer("/metrics"), Ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new("Bearer", "metrics-secret-9");
        using var authorized = await closed.Client.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.OK, (await open.Client.GetAsync("/metrics", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, dashboardToken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, authorized.StatusCode);
        Assert.Contains("herald_tracking_requests_total", await authorized.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    private static TrackingServerOptions With(TrackingServerOptions o, int? failures = null, TimeProvider? time = null, TimeSpan? session = null, string? metricsToken = null) => new()
    {
        Signer = o.Signer,
        Store = o.Store,
        Ledger = o.Ledger,
        Reports = o.Reports,
        Journal = o.Journal,
        Urls = o.Urls,
        DashboardToken = o.DashboardToken,
        StoreRetryInterval = o.StoreRetryInterval,
        LoginFailuresAllowed = failures ?? o.LoginFailuresAllowed,
        Time = time ?? o.Time,
        DashboardSession = session ?? o.DashboardSession,
        MetricsToken = metricsToken ?? o.MetricsToken,
    };

    internal static HttpRequestMessage Bearer(string path, string token = Token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", token);
        return request;
    }

    private static FormUrlEncodedContent Form(string token) => new([new("token", token)]);

    private static async Task<HttpResponseMessage> WithCookieAsync(ServerHarness server, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/campaigns");
        request.Headers.Add("Cookie", cookie);
        return await server.Client.SendAsync(request, Ct);
    }

    /// <summary>A client whose connections come from another loopback address, as a second machine's would.</summary>
    private static HttpClient OtherClient(ServerHarness server, IPAddress local) =>
        new(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(local, 0));
                    await socket.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        }) { BaseAddress = server.BaseAddress };

    private sealed class Clock : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}

/// <summary>Keeps every formatted log line, for tests that assert what is (and is not) logged.</summary>
internal sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(lines);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue(formatter(state, exception));
    }
}
