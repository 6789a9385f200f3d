using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Herald.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Herald.Tracking;

/// <summary>
/// The private dashboard at <c>/</c> and its JSON API. Access needs the configured token: typed into the login form
/// (which sets an HttpOnly cookie holding a MAC of the token, never the token itself) or sent as a bearer token.
/// </summary>
internal static class DashboardEndpoints
{
    public const string CookieName = "herald_dashboard";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
    };

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", Home);
        app.MapPost("/login", LoginAsync);
        app.MapPost("/logout", Logout);
        app.MapGet("/api/campaigns", CampaignsAsync);
        app.MapGet("/api/campaigns/{id}", ReportAsync);
    }

    public static Results<ContentHttpResult, ProblemHttpResult> Home(HttpContext context, TrackingServerOptions options, TrackingMetrics metrics)
    {
        metrics.Request(Endpoint.Dashboard, ok: true);
        if (options.DashboardToken is null)
        {
            return Disabled();
        }

        return TypedResults.Content(IsAuthorized(context, options) ? DashboardPage.Html : DashboardPage.Login(error: false), "text/html; charset=utf-8");
    }

    public static async Task<Results<RedirectHttpResult, ContentHttpResult, ProblemHttpResult>> LoginAsync(HttpContext context, TrackingServerOptions options)
    {
        if (options.DashboardToken is null)
        {
            return Disabled();
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

        if (given is null || !TokenMatches(given, options.DashboardToken))
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return TypedResults.Content(DashboardPage.Login(error: true), "text/html; charset=utf-8", Encoding.UTF8, StatusCodes.Status401Unauthorized);
        }

        context.Response.Cookies.Append(CookieName, SessionValue(options.DashboardToken), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
        });
        // 303: the browser follows with a GET, so reloading the dashboard does not re-post the password.
        return TypedResults.Redirect("/", permanent: false, preserveMethod: false);
    }

    public static RedirectHttpResult Logout(HttpContext context)
    {
        context.Response.Cookies.Delete(CookieName);
        return TypedResults.Redirect("/");
    }

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> CampaignsAsync(HttpContext context, TrackingServerOptions options, CancellationToken cancellationToken)
    {
        if (Deny(context, options) is { } denied)
        {
            return denied;
        }

        var ids = new SortedSet<string>(await options.Store.ListEventCampaignsAsync(cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);
        if (options.Ledger is not null)
        {
            ids.UnionWith(await options.Ledger.ListCampaignsAsync(cancellationToken).ConfigureAwait(false));
        }

        var rows = new List<CampaignRow>();
        foreach (var id in ids)
        {
            var events = await options.Store.GetEventCountsAsync(id, cancellationToken).ConfigureAwait(false);
            StateCounts? delivery = options.Ledger is null ? null : await options.Ledger.GetCountsAsync(id, cancellationToken).ConfigureAwait(false);
            rows.Add(new CampaignRow(id, delivery?.Total ?? 0, delivery?.Sent ?? 0, events.Opens, events.Clicks, events.Unsubscribes));
        }

        return TypedResults.Content(JsonSerializer.Serialize(rows, Json), "application/json");
    }

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> ReportAsync(string id, HttpContext context, TrackingServerOptions options, CancellationToken cancellationToken)
    {
        if (Deny(context, options) is { } denied)
        {
            return denied;
        }

        var known = (await options.Store.ListEventCampaignsAsync(cancellationToken).ConfigureAwait(false)).Contains(id, StringComparer.Ordinal)
            || (options.Ledger is not null && await options.Ledger.GetPlanAsync(id, cancellationToken).ConfigureAwait(false) is not null);
        if (!known)
        {
            return TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Unknown campaign" });
        }

        var (report, _) = await CampaignReportBuilder.BuildAsync(id, options.Ledger, options.Store, options.Engagement, cancellationToken).ConfigureAwait(false);
        return TypedResults.Content(JsonSerializer.Serialize(report, Json), "application/json");
    }

    internal static bool IsAuthorized(HttpContext context, TrackingServerOptions options)
    {
        var expected = options.DashboardToken;
        if (expected is null)
        {
            return false;
        }

        string? authorization = context.Request.Headers.Authorization;
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.Ordinal)
            && TokenMatches(authorization["Bearer ".Length..], expected))
        {
            return true;
        }

        return context.Request.Cookies.TryGetValue(CookieName, out var cookie) && cookie is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(cookie), Encoding.UTF8.GetBytes(SessionValue(expected)));
    }

    private static ProblemHttpResult? Deny(HttpContext context, TrackingServerOptions options)
    {
        if (options.DashboardToken is null)
        {
            return Disabled();
        }

        return IsAuthorized(context, options)
            ? null
            : TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status401Unauthorized, Title = "Log in to the dashboard first" });
    }

    private static ProblemHttpResult Disabled() =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status404NotFound,
            Title = "Dashboard disabled",
            Detail = "Start herald serve with HERALD_DASHBOARD_TOKEN set to enable the dashboard.",
        });

    private static bool TokenMatches(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    /// <summary>The cookie value: a MAC of a fixed label under the token, so the cookie never reveals the token.</summary>
    private static string SessionValue(string token) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(token), "herald-dashboard-session-v1"u8));

    private sealed record CampaignRow(string Id, long Total, long Sent, long Opens, long Clicks, long Unsubscribes);

    internal static string Encode(string text) => WebUtility.HtmlEncode(text);
}
