using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>
/// The private dashboard: its pages (<c>/</c>, the login form), static assets, and the JSON API under <c>/api</c>
/// (<see cref="DashboardApi"/>). Every response carries a strict Content-Security-Policy (no inline script or style,
/// nothing from another origin) and refuses framing.
/// </summary>
internal static partial class DashboardEndpoints
{
    /// <summary>Scripts and styles only from this server, no plugins, no framing, forms only to this server.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static void Map(IEndpointRouteBuilder app)
    {
        var dashboard = app.MapGroup(string.Empty).AddEndpointFilter(async (context, next) =>
        {
            var headers = context.HttpContext.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            return await next(context).ConfigureAwait(false);
        });
        dashboard.MapGet("/", Home);
        dashboard.MapPost("/login", LoginAsync);
        dashboard.MapPost("/logout", Logout);
        dashboard.MapGet("/assets/{name}", Asset);
        DashboardApi.Map(dashboard.MapGroup("/api"));
    }

    public static Results<ContentHttpResult, ProblemHttpResult> Home(HttpContext context, TrackingServerOptions options, TrackingMetrics metrics)
    {
        metrics.Request(Endpoint.Dashboard, ok: true);
        if (!IsEnabled(options))
        {
            return Disabled();
        }

        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Content(DashboardAuth.IsAuthorized(context, options) ? DashboardPage.App : DashboardPage.Login(null), "text/html; charset=utf-8");
    }

    public static async Task<Results<RedirectHttpResult, ContentHttpResult, ProblemHttpResult>> LoginAsync(
        HttpContext context, TrackingServerOptions options, TrackingMetrics metrics, LoginThrottle throttle, ILogger<DashboardLogins> logger)
    {
        if (!IsEnabled(options))
        {
            return Disabled();
        }

        var client = context.Connection.RemoteIpAddress;
        if (IsThrottled(context, metrics, throttle, logger))
        {
            return TypedResults.Content(DashboardPage.Login("Too many failed attempts. Wait a few minutes and try again."), "text/html; charset=utf-8",
                Encoding.UTF8, StatusCodes.Status429TooManyRequests);
        }

        string? given;
        try
        {
            var form = context.Request.HasFormContentType
                ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false)
                : null;
            given = form?["token"];
        }
        catch (BadHttpRequestException)
        {
            return TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status413PayloadTooLarge, Title = "Request body too large" });
        }
        catch (InvalidDataException)
        {
            return TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status400BadRequest, Title = "Bad form" });
        }

        if (given is null || !DashboardAuth.TokenMatches(given, options.DashboardToken!))
        {
            Failed(context, metrics, throttle, logger);
            return TypedResults.Content(DashboardPage.Login("Wrong token."), "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status401Unauthorized);
        }

        throttle.Succeeded(client);
        var expires = options.Time.GetUtcNow() + options.DashboardSession;
        context.Response.Cookies.Append(DashboardAuth.CookieName, DashboardAuth.CreateSession(options.DashboardToken!, expires), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            Expires = expires,
            MaxAge = options.DashboardSession,
        });
        // 302, not 307: the browser follows with a GET, so reloading the dashboard does not re-post the token.
        return TypedResults.Redirect("/", permanent: false, preserveMethod: false);
    }

    public static RedirectHttpResult Logout(HttpContext context)
    {
        context.Response.Cookies.Delete(DashboardAuth.CookieName);
        return TypedResults.Redirect("/");
    }

    public static Results<ContentHttpResult, NotFound> Asset(string name, HttpContext context)
    {
        if (DashboardPage.Asset(name) is not { } asset)
        {
            return TypedResults.NotFound();
        }

        context.Response.Headers.CacheControl = "no-cache";
        return TypedResults.Content(asset.Content, asset.ContentType);
    }

    /// <summary>
    /// True (and Retry-After set, counted and logged) while the client has used up its failed attempts. Every way of
    /// presenting a token asks this first and refuses even the right token then, so a guesser cannot tell a hit.
    /// </summary>
    internal static bool IsThrottled(HttpContext context, TrackingMetrics metrics, LoginThrottle throttle, ILogger<DashboardLogins> logger)
    {
        var client = context.Connection.RemoteIpAddress;
        if (throttle.RetryAfter(client) is not { } wait)
        {
            return false;
        }

        metrics.LoginThrottled();
        LogThrottled(logger, ClientNetwork.Truncate(client) ?? "unknown");
        context.Response.Headers.RetryAfter = Math.Ceiling(wait.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>A wrong token, from the login form or as a bearer token: throttled per client, counted and logged (never the token).</summary>
    internal static void Failed(HttpContext context, TrackingMetrics metrics, LoginThrottle throttle, ILogger<DashboardLogins> logger)
    {
        var client = context.Connection.RemoteIpAddress;
        throttle.Failed(client);
        metrics.LoginFailed();
        LogFailed(logger, ClientNetwork.Truncate(client) ?? "unknown");
    }

    /// <summary>
    /// Bearer tokens on the API and on a private <c>/metrics</c> are guesses like the login form's: a 429 while the
    /// client is throttled (right token or wrong); otherwise null, and a wrong token is counted as a failed login
    /// (the caller answers it 401 as before).
    /// </summary>
    internal static ProblemHttpResult? ThrottleBearer(HttpContext context, string? expected)
    {
        if (DashboardAuth.BearerToken(context) is not { } given)
        {
            return null;
        }

        var services = context.RequestServices;
        var metrics = services.GetRequiredService<TrackingMetrics>();
        var throttle = services.GetRequiredService<LoginThrottle>();
        var logger = services.GetRequiredService<ILogger<DashboardLogins>>();
        if (IsThrottled(context, metrics, throttle, logger))
        {
            return TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status429TooManyRequests, Title = "Too many failed attempts" });
        }

        if (expected is not null && DashboardAuth.TokenMatches(given, expected))
        {
            throttle.Succeeded(context.Connection.RemoteIpAddress);
            return null;
        }

        Failed(context, metrics, throttle, logger);
        return null;
    }

    internal static bool IsEnabled(TrackingServerOptions options) => options.DashboardToken is not null && options.Reports is not null;

    internal static ProblemHttpResult Disabled() =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status404NotFound,
            Title = "Dashboard disabled",
            Detail = "Start herald serve with HERALD_DASHBOARD_TOKEN set to enable the dashboard.",
        });

    [LoggerMessage(Level = LogLevel.Warning, Message = "dashboard login failed from {Network}")]
    private static partial void LogFailed(ILogger logger, string network);

    [LoggerMessage(Level = LogLevel.Warning, Message = "dashboard login refused: too many failures from {Network}")]
    private static partial void LogThrottled(ILogger logger, string network);
}

/// <summary>Log category of dashboard logins.</summary>
internal sealed class DashboardLogins;
