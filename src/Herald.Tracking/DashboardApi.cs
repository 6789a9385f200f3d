using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
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
/// The dashboard's JSON API: the campaigns overview, a campaign's report (the same JSON as <c>herald report --json</c>),
/// its live stream (send progress and fresh reports as server-sent events) and downloads. Every request is bounded by
/// <see cref="TrackingServerOptions.DashboardRequestTimeLimit"/> and stops when the client goes away.
/// </summary>
internal static class DashboardApi
{
    public static void Map(RouteGroupBuilder api)
    {
        api.AddEndpointFilter(async (context, next) =>
        {
            var options = context.HttpContext.RequestServices.GetRequiredService<TrackingServerOptions>();
            if (!DashboardEndpoints.IsEnabled(options))
            {
                return DashboardEndpoints.Disabled();
            }

            context.HttpContext.Response.Headers.CacheControl = "no-store";
            if (DashboardEndpoints.ThrottleBearer(context.HttpContext, options.DashboardToken) is { } throttled)
            {
                return throttled;
            }

            return DashboardAuth.IsAuthorized(context.HttpContext, options)
                ? await next(context).ConfigureAwait(false)
                : TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status401Unauthorized, Title = "Log in to the dashboard first" });
        });
        api.MapGet("/campaigns", CampaignsAsync);
        api.MapGet("/campaigns/{id}", ReportAsync);
        api.MapGet("/campaigns/{id}/live", Live);
        api.MapGet("/campaigns/{id}/report.json", DownloadJsonAsync);
        api.MapGet("/campaigns/{id}/report.csv", DownloadCsvAsync);
        api.MapGet("/campaigns/{id}/recipients.csv", RecipientsAsync);
    }

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> CampaignsAsync(
        HttpContext context, TrackingServerOptions options, ReportCache cache, SendProgress progress, CancellationToken cancellationToken)
    {
        using var limit = Limit(options, cancellationToken);
        var listings = await options.Reports!.ListCampaignsAsync(limit.Token).ConfigureAwait(false);
        var rows = new List<CampaignRow>(listings.Count);
        foreach (var c in listings)
        {
            cache.RefreshIfStale(c.CampaignId);
            var report = cache.Peek(c.CampaignId)?.Report;
            var live = await progress.SampleAsync(c.CampaignId, limit.Token).ConfigureAwait(false);
            rows.Add(new CampaignRow(
                c.CampaignId, c.PlannedAt, c.Recipients, c.Sent, c.Opens, c.Clicks, c.Unsubscribes, c.LastEventAt,
                live is { Active: true } ? "sending" : c.Recipients == 0 ? "tracking" : live is { Sent: 0, Failed: 0, InDoubt: 0 } ? "planned" : "sent",
                report?.HumanRates, report?.RawRates, report?.GeneratedAt));
        }

        return TypedResults.Content(JsonSerializer.Serialize(rows, CampaignReportFormats.CompactJson), "application/json");
    }

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> ReportAsync(
        string id, string? from, string? to, TrackingServerOptions options, ReportCache cache, CancellationToken cancellationToken)
    {
        using var limit = Limit(options, cancellationToken);
        // A campaign with a report in memory is known: the campaign list (a count over the whole ledger) is not read again.
        if (cache.Peek(id) is null && await KnownAsync(id, options, limit.Token).ConfigureAwait(false) is { } unknown)
        {
            return unknown;
        }

        if (!TryRange(from, to, options, out var window, out var bad))
        {
            return bad;
        }

        try
        {
            var json = window is null
                ? (await cache.GetAsync(id, limit.Token).ConfigureAwait(false)).Json
                : CampaignReportFormats.ToJson(await cache.ComputeAsync(window with { CampaignId = id }, limit.Token).ConfigureAwait(false), indented: false);
            return TypedResults.Content(json, "application/json");
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return Busy();
        }
    }

    /// <summary>Server-sent events: <c>progress</c> every live interval, <c>report</c> whenever a newer report is ready.</summary>
    public static ServerSentEventsResult<string> Live(string id, TrackingServerOptions options, ReportCache cache, SendProgress progress, CancellationToken cancellationToken) =>
        TypedResults.ServerSentEvents(LiveEventsAsync(id, options, cache, progress, cancellationToken));

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> DownloadJsonAsync(
        string id, string? from, string? to, HttpContext context, TrackingServerOptions options, ReportCache cache, CancellationToken cancellationToken)
    {
        var report = await ReportForDownloadAsync(id, from, to, options, cache, cancellationToken).ConfigureAwait(false);
        if (report.Problem is { } problem)
        {
            return problem;
        }

        Attachment(context, $"{id}-report.json");
        return TypedResults.Content(CampaignReportFormats.ToJson(report.Report!), "application/json");
    }

    public static async Task<Results<ContentHttpResult, ProblemHttpResult>> DownloadCsvAsync(
        string id, string? from, string? to, HttpContext context, TrackingServerOptions options, ReportCache cache, CancellationToken cancellationToken)
    {
        var report = await ReportForDownloadAsync(id, from, to, options, cache, cancellationToken).ConfigureAwait(false);
        if (report.Problem is { } problem)
        {
            return problem;
        }

        Attachment(context, $"{id}-report.csv");
        return TypedResults.Content(CampaignReportFormats.ToCsv(report.Report!), "text/csv; charset=utf-8");
    }

    /// <summary>The per-recipient export, streamed as it is read (its time limit is the report limit: it is a download).</summary>
    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> RecipientsAsync(
        string id, HttpContext context, TrackingServerOptions options, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(options.ReportTimeLimit);
        if (await KnownAsync(id, options, limit.Token).ConfigureAwait(false) is { } unknown)
        {
            return unknown;
        }

        Attachment(context, $"{id}-recipients.csv");
        context.Response.ContentType = "text/csv; charset=utf-8";
        var writer = new StreamWriter(context.Response.Body, new UTF8Encoding(false), bufferSize: 1 << 16);
        await using (writer.ConfigureAwait(false))
        {
            await RecipientExport.WriteCsvAsync(options.Reports!, new EventWindow(id), options.Engagement, writer, limit.Token).ConfigureAwait(false);
        }

        return TypedResults.Empty;
    }

    private static async IAsyncEnumerable<SseItem<string>> LiveEventsAsync(
        string id, TrackingServerOptions options, ReportCache cache, SendProgress progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lifetime.CancelAfter(options.LiveStreamLifetime);
        var sentVersion = -1L;
        while (!lifetime.IsCancellationRequested)
        {
            SendProgressSnapshot? snapshot = null;
            try
            {
                snapshot = await progress.SampleAsync(id, lifetime.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
            catch (HeraldException)
            {
                // The store is away for a moment: the next tick tries again.
            }

            if (snapshot is not null)
            {
                yield return new SseItem<string>(JsonSerializer.Serialize(snapshot, CampaignReportFormats.CompactJson), "progress");
            }

            cache.RefreshIfStale(id);
            if (cache.Peek(id) is { } latest && latest.Version != sentVersion)
            {
                sentVersion = latest.Version;
                yield return new SseItem<string>(latest.Json, "report");
            }

            try
            {
                await Task.Delay(options.LiveInterval, options.Time, lifetime.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    private static async Task<(CampaignReport? Report, ProblemHttpResult? Problem)> ReportForDownloadAsync(
        string id, string? from, string? to, TrackingServerOptions options, ReportCache cache, CancellationToken cancellationToken)
    {
        using var limit = Limit(options, cancellationToken);
        if (await KnownAsync(id, options, limit.Token).ConfigureAwait(false) is { } unknown)
        {
            return (null, unknown);
        }

        if (!TryRange(from, to, options, out var window, out var bad))
        {
            return (null, bad);
        }

        try
        {
            return window is null
                ? ((await cache.GetAsync(id, limit.Token).ConfigureAwait(false)).Report, null)
                : (await cache.ComputeAsync(window with { CampaignId = id }, limit.Token).ConfigureAwait(false), null);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (null, Busy());
        }
    }

    private static async Task<ProblemHttpResult?> KnownAsync(string id, TrackingServerOptions options, CancellationToken cancellationToken)
    {
        var campaigns = await options.Reports!.ListCampaignsAsync(cancellationToken).ConfigureAwait(false);
        return campaigns.Any(c => string.Equals(c.CampaignId, id, StringComparison.Ordinal))
            ? null
            : TypedResults.Problem(new ProblemDetails { Status = StatusCodes.Status404NotFound, Title = "Unknown campaign" });
    }

    private static bool TryRange(string? from, string? to, TrackingServerOptions options, out EventWindow? window, out ProblemHttpResult bad)
    {
        window = null;
        bad = null!;
        if (string.IsNullOrEmpty(from) && string.IsNullOrEmpty(to))
        {
            return true;
        }

        var now = options.Time.GetUtcNow();
        DateTimeOffset? start = null, end = null;
        if (!string.IsNullOrEmpty(from))
        {
            if (!ReportTimes.TryParse(from, now, out var f))
            {
                bad = BadRange("from", from);
                return false;
            }

            start = f;
        }

        if (!string.IsNullOrEmpty(to))
        {
            if (!ReportTimes.TryParse(to, now, out var t))
            {
                bad = BadRange("to", to);
                return false;
            }

            end = t;
        }

        window = new EventWindow(string.Empty, start, end);
        return true;
    }

    private static ProblemHttpResult BadRange(string name, string value) =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status400BadRequest,
            Title = $"Bad '{name}'",
            Detail = $"'{value}' is not a time (ISO 8601 such as 2026-04-01T10:00:00Z, or 24h, 7d).",
        });

    private static ProblemHttpResult Busy() =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "The report is still being computed",
            Detail = "Try again in a moment.",
        });

    private static CancellationTokenSource Limit(TrackingServerOptions options, CancellationToken cancellationToken)
    {
        var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(options.DashboardRequestTimeLimit);
        return limit;
    }

    private static void Attachment(HttpContext context, string name) =>
        context.Response.Headers.ContentDisposition = $"attachment; filename=\"{new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')])}\"";

    private sealed record CampaignRow(
        string Id, DateTimeOffset? PlannedAt, long Recipients, long Sent, long Opens, long Clicks, long Unsubscribes, DateTimeOffset? LastEventAt,
        string Status, IReadOnlyDictionary<string, double?>? HumanRates, IReadOnlyDictionary<string, double?>? RawRates, DateTimeOffset? ReportAt);
}
