using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Commands;

/// <summary><c>herald events export</c>: every event of a campaign, streamed in time order, for the user's own warehouse.</summary>
internal static class EventsCommand
{
    public const string CsvHeader = "event_id,at,kind,recipient_id,link,link_label,target,method,user_agent,client_network,flags";

    public static Command Create()
    {
        var options = new ReportOptions();
        var since = new Option<string?>("--since") { Description = "Only events at or after this time (ISO 8601, or a duration back from now: 24h, 7d)." };
        var format = new Option<string>("--format")
        {
            Description = "csv (a header line, then one row per event) or jsonl (one JSON object per line).",
            DefaultValueFactory = _ => "csv",
        };
        format.AcceptOnlyFromAmong("csv", "jsonl");
        var export = new Command("export", "Write every event (recipient, link, time, flags) to standard output, oldest first.") { since, format };
        options.AddTo(export, engagement: false);
        export.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            var from = ReportOptions.ParseTime(result, since);
            var jsonl = result.GetValue(format) == "jsonl";
            // Standard output carries the events: the store line goes to standard error.
            var (campaign, stores) = await ReportOptions.OpenAsync(result, options, Console.Error, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var store = stores.Reports;
                // An export may take long: the time limit applies, and stdout closing (a pipe to head) ends it too.
                return await ReportOptions.WithTimeLimitAsync(options.ParseTimeout(result), ct, async token =>
                {
                    var labels = (await store.GetLinksAsync(campaign.Id, token).ConfigureAwait(false)) is { Count: > 0 } known ? known : CampaignTemplates.ReadLinks(campaign);
                    var byNumber = labels.ToDictionary(l => l.Number, l => l.Label);
                    var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), bufferSize: 1 << 16) { NewLine = "\n" };
                    await using (output.ConfigureAwait(false))
                    {
                        var count = await WriteAsync(store.ReadEventsByTimeAsync(new EventWindow(campaign.Id, from), token), byNumber, jsonl, output, token).ConfigureAwait(false);
                        await output.FlushAsync(token).ConfigureAwait(false);
                        Console.Error.WriteLine($"{count.ToString("N0", CultureInfo.InvariantCulture)} event(s) exported.");
                    }

                    return CliRunner.Ok;
                }, streaming: true).ConfigureAwait(false);
            }
        }));
        return new Command("events", "Work with the raw tracking events of a campaign.") { export };
    }

    internal static async Task<long> WriteAsync(IAsyncEnumerable<TrackingEvent> events, IReadOnlyDictionary<int, string> labels, bool jsonl, TextWriter output, CancellationToken cancellationToken)
    {
        if (!jsonl)
        {
            await output.WriteLineAsync(CsvHeader.AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        long count = 0;
        await foreach (var e in events.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var label = e.Kind == TrackingEventKind.Click ? labels.GetValueOrDefault(e.LinkNumber) : null;
            var kind = Kind(e.Kind);
            var flags = FlagNames(e.Flags);
            var line = jsonl
                ? JsonSerializer.Serialize(new ExportedEvent(e.Id, e.At, kind, e.RecipientId, e.Kind == TrackingEventKind.Click ? e.LinkNumber : null, label, e.Target,
                    e.Method, e.UserAgent, e.ClientNetwork, flags), CampaignReportFormats.CompactJson)
                : Csv.Line(e.Id.ToString("D"), e.At, kind, e.RecipientId, e.Kind == TrackingEventKind.Click ? e.LinkNumber : null, label, e.Target,
                    e.Method, e.UserAgent, e.ClientNetwork, string.Join('|', flags));
            await output.WriteLineAsync(line.AsMemory(), cancellationToken).ConfigureAwait(false);
            count++;
        }

        return count;
    }

    private static string Kind(TrackingEventKind kind) => kind switch
    {
        TrackingEventKind.Open => "open",
        TrackingEventKind.Click => "click",
        TrackingEventKind.Unsubscribe => "unsubscribe",
        _ => kind.ToString().ToUpperInvariant(),
    };

    /// <summary>The request flags stored with the event (<c>head</c>, <c>scanner</c>, <c>apple_mpp</c>); the report's other bot rules need the whole campaign.</summary>
    private static string[] FlagNames(EventFlags flags)
    {
        var names = new List<string>(3);
        if ((flags & EventFlags.Head) != 0)
        {
            names.Add("head");
        }

        if ((flags & EventFlags.Scanner) != 0)
        {
            names.Add("scanner");
        }

        if ((flags & EventFlags.AppleMpp) != 0)
        {
            names.Add("apple_mpp");
        }

        return [.. names];
    }

    private sealed record ExportedEvent(
        Guid EventId, DateTimeOffset At, string Kind, string RecipientId, int? Link, string? LinkLabel, string? Target,
        string Method, string? UserAgent, string? ClientNetwork, string[] Flags);
}
