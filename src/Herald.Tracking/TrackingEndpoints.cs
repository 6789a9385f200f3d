using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;
using Herald.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>The public endpoints every email links to: <c>/c</c> clicks, <c>/o</c> opens, <c>/u</c> unsubscribes.</summary>
internal static class TrackingEndpoints
{
    private const int MaxUserAgent = 512;

    // The smallest transparent 1x1 GIF.
    private static readonly byte[] Pixel = Convert.FromBase64String("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7");

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapMethods("/c/{token}", [HttpMethods.Get, HttpMethods.Head], ClickAsync);
        app.MapMethods("/o/{token}", [HttpMethods.Get, HttpMethods.Head], OpenAsync);
        app.MapGet("/u/{token}", UnsubscribePage);
        app.MapPost("/u/{token}", UnsubscribeAsync);
        app.MapGet("/healthz", Health);
        app.MapGet("/metrics", Metrics);
    }

    public static async Task<Results<RedirectHttpResult, ProblemHttpResult>> ClickAsync(
        string token, HttpContext context, TokenSigner signer, CampaignDirectory campaigns, EventPipeline events, TrackingMetrics metrics)
    {
        var started = Stopwatch.GetTimestamp();
        if (!Verify(signer, token, TokenKind.Click, context, metrics, out var verified) || !IsSafeTarget(verified.Target, out var target)
            || !await campaigns.IsKnownAsync(verified.CampaignId, context.RequestAborted).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Click, ok: false);
            return NotFound();
        }

        if (!await events.RecordAsync(CreateEvent(TrackingEventKind.Click, verified, context)).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Click, ok: false);
            return Unavailable(context, events);
        }

        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers["Referrer-Policy"] = "no-referrer";
        metrics.Request(Endpoint.Click, ok: true);
        metrics.RedirectTime(started);
        return TypedResults.Redirect(target);
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> OpenAsync(
        string token, HttpContext context, TokenSigner signer, CampaignDirectory campaigns, EventPipeline events, TrackingMetrics metrics)
    {
        if (!Verify(signer, token, TokenKind.Open, context, metrics, out var verified)
            || !await campaigns.IsKnownAsync(verified.CampaignId, context.RequestAborted).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Open, ok: false);
            return NotFound();
        }

        if (!await events.RecordAsync(CreateEvent(TrackingEventKind.Open, verified, context)).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Open, ok: false);
            return Unavailable(context, events);
        }

        context.Response.Headers.CacheControl = "no-store, no-cache, must-revalidate, private";
        context.Response.Headers.Pragma = "no-cache";
        metrics.Request(Endpoint.Open, ok: true);
        return TypedResults.File(Pixel, "image/gif");
    }

    /// <summary>GET only shows a confirmation page: mail scanners follow links, and a GET must change nothing.</summary>
    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> UnsubscribePage(
        string token, HttpContext context, TokenSigner signer, CampaignDirectory campaigns, TrackingMetrics metrics)
    {
        if (!Verify(signer, token, TokenKind.Unsubscribe, context, metrics, out var verified)
            || !await campaigns.IsKnownAsync(verified.CampaignId, context.RequestAborted).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Unsubscribe, ok: false);
            return NotFound();
        }

        metrics.Request(Endpoint.Unsubscribe, ok: true);
        var action = WebUtility.HtmlEncode("/u/" + token);
        return TypedResults.Content(Page("Unsubscribe", $"""
            <h1>Unsubscribe</h1>
            <p>Do you want to stop receiving these emails?</p>
            <form method="post" action="{action}">
              <input type="hidden" name="List-Unsubscribe" value="One-Click">
              <button type="submit" id="unsubscribe">Unsubscribe</button>
            </form>
            """), "text/html; charset=utf-8");
    }

    /// <summary>RFC 8058 one-click (and the page's button): no cookie, no login; idempotent; 200, never a redirect.</summary>
    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> UnsubscribeAsync(
        string token, HttpContext context, TokenSigner signer, CampaignDirectory campaigns, EventPipeline events, TrackingMetrics metrics)
    {
        if (!Verify(signer, token, TokenKind.Unsubscribe, context, metrics, out var verified)
            || !await campaigns.IsKnownAsync(verified.CampaignId, context.RequestAborted).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Unsubscribe, ok: false);
            return NotFound();
        }

        var body = await ReadOneClickAsync(context.Request).ConfigureAwait(false);
        if (body is not null)
        {
            metrics.Request(Endpoint.Unsubscribe, ok: false);
            return body;
        }

        if (!await events.RecordAsync(CreateEvent(TrackingEventKind.Unsubscribe, verified, context)).ConfigureAwait(false))
        {
            metrics.Request(Endpoint.Unsubscribe, ok: false);
            return Unavailable(context, events);
        }

        metrics.Request(Endpoint.Unsubscribe, ok: true);
        return TypedResults.Content(Page("Unsubscribed", "<h1>You are unsubscribed</h1><p>You will not receive these emails any more.</p>"),
            "text/html; charset=utf-8");
    }

    /// <summary>503 while the journal cannot take events, so that a load balancer sends tracking requests to another copy.</summary>
    public static Results<ContentHttpResult, ProblemHttpResult> Health(EventPipeline events, HttpContext context) =>
        events.Problem is null ? TypedResults.Text("ok") : Unavailable(context, events);

    /// <summary>
    /// The event could not be journaled: the request is not answered as if it were recorded (a redirect would be an
    /// answered click that no store will ever see); the client may try again, here or at another copy.
    /// </summary>
    private static ProblemHttpResult Unavailable(HttpContext context, EventPipeline events)
    {
        context.Response.Headers.RetryAfter = "5";
        return TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "Service unavailable",
            Detail = events.Problem is null ? "Try again in a moment." : "This server cannot record requests right now; try again in a moment.",
        });
    }

    /// <summary>
    /// A token of <paramref name="kind"/> signed with one of our keys. A well-formed token with a key id we do not have
    /// is counted and logged once per id: it almost always means send and serve run with different secrets.
    /// </summary>
    private static bool Verify(TokenSigner signer, string token, TokenKind kind, HttpContext context, TrackingMetrics metrics, [NotNullWhen(true)] out TrackingToken? verified)
    {
        var status = signer.Verify(token, out verified, out var keyId);
        if (status == TokenStatus.UnknownKey && metrics.UnknownKey(keyId))
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(TokenSigner)).LogWarning(
                "Refused a link signed with unknown key id {KeyId}; this server verifies {Keys}. Was the mail sent with another {Variable}? Further links with this key id are counted in /metrics (herald_tracking_unknown_key_total), not logged.",
                TokenKey.FormatId(keyId), signer.Describe(), TokenSigner.SecretVariable);
        }

        return status == TokenStatus.Valid && verified!.Kind == kind;
    }

    /// <summary>Prometheus text; with a metrics token configured, only for <c>Authorization: Bearer TOKEN</c>.</summary>
    public static Results<ContentHttpResult, UnauthorizedHttpResult, ProblemHttpResult> Metrics(HttpContext context, TrackingServerOptions options, PrometheusExporter exporter)
    {
        if (options.MetricsToken is { } token)
        {
            if (DashboardEndpoints.ThrottleBearer(context, token) is { } throttled)
            {
                return throttled;
            }

            if (DashboardAuth.BearerToken(context) is not { } given || !DashboardAuth.TokenMatches(given, token))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer realm=\"metrics\"";
                return TypedResults.Unauthorized();
            }
        }

        return TypedResults.Text(exporter.Render(), "text/plain; version=0.0.4; charset=utf-8");
    }

    internal static ProblemHttpResult NotFound() =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status404NotFound,
            Title = "Not found",
            Detail = "This link is not valid.",
        });

    private static async Task<ProblemHttpResult?> ReadOneClickAsync(HttpRequest request)
    {
        try
        {
            if (request.ContentLength > request.HttpContext.RequestServices.GetRequiredService<TrackingServerOptions>().MaxRequestBodyBytes)
            {
                return TooLarge();
            }

            string? value;
            if (request.HasFormContentType)
            {
                var form = await request.ReadFormAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
                value = form["List-Unsubscribe"];
            }
            else
            {
                using var reader = new StreamReader(request.Body, Encoding.UTF8);
                var text = await reader.ReadToEndAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
                value = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(text.Trim()).TryGetValue("List-Unsubscribe", out var v) ? v.ToString() : null;
            }

            return string.Equals(value, "One-Click", StringComparison.Ordinal)
                ? null
                : TypedResults.Problem(new ProblemDetails
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "Bad request",
                    Detail = "Expected the body List-Unsubscribe=One-Click (RFC 8058).",
                });
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }
        catch (InvalidDataException)
        {
            // The form reader's own limits (value or key counts and lengths).
            return TooLarge();
        }
    }

    private static ProblemHttpResult TooLarge() =>
        TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status413PayloadTooLarge, Title = "Request body too large" });

    private static bool IsSafeTarget(string? target, out string safe)
    {
        // Only absolute http(s) targets: a signed token never turns us into a redirect to javascript: or data:.
        safe = string.Empty;
        if (target is null || !Uri.TryCreate(target, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return false;
        }

        safe = uri.AbsoluteUri;
        return true;
    }

    private static TrackingEvent CreateEvent(TrackingEventKind kind, TrackingToken token, HttpContext context)
    {
        var request = context.Request;
        var address = context.Connection.RemoteIpAddress;
        string? userAgent = request.Headers.UserAgent;
        if (userAgent is { Length: > MaxUserAgent })
        {
            userAgent = userAgent[..MaxUserAgent];
        }

        return new TrackingEvent(
            Guid.CreateVersion7(),
            DateTimeOffset.UtcNow,
            kind,
            token.CampaignId,
            token.RecipientId,
            token.LinkNumber,
            kind == TrackingEventKind.Click ? token.Target : null,
            request.Method,
            userAgent,
            ClientNetwork.Truncate(address),
            BotClassifier.Classify(kind, request.Method, userAgent, address));
    }

    internal static string Page(string title, string body) => $"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{WebUtility.HtmlEncode(title)}</title>
        <style>body{"{"}font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222{"}"}
        button{"{"}font-size:1rem;padding:.5rem 1.2rem{"}"}</style></head>
        <body>{body}</body></html>
        """;
}
