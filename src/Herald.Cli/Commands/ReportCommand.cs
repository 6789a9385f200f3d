using System.CommandLine;
using System.Globalization;
using System.Text;
using Herald.Cli.Stores;
using Herald.Rendering;
using Herald.Store;
using Herald.Tracking;
using Spectre.Console;

namespace Herald.Cli.Commands;

/// <summary><c>herald report</c>: delivery and engagement (raw and human) of one campaign; optional per-recipient export.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var options = new ReportOptions();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var csv = new Option<bool>("--csv") { Description = "Print the report as CSV rows: section,name,raw,human." };
        var recipients = new Option<string?>("--recipients") { Description = "Also write one CSV row per recipient (state, SMTP reply, opened, clicked, unsubscribed, human or not) to this file." };
        var from = new Option<string?>("--from") { Description = "Only events at or after this time (ISO 8601, or a duration back from now: 24h, 7d)." };
        var to = new Option<string?>("--to") { Description = "Only events before this time." };
        var command = new Command("report", "Delivery and engagement numbers of a campaign.") { json, csv, recipients, from, to };
        options.AddTo(command);
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            if (result.GetValue(json) && result.GetValue(csv))
            {
                throw new HeraldException("--json and --csv exclude each other.");
            }

            var limit = options.ParseTimeout(result);
            var engagement = options.Engagement(result);
            var window = (From: ReportOptions.ParseTime(result, from), To: ReportOptions.ParseTime(result, to));
            // CSV and JSON go to stdout for a program: the store line must not become its first row.
            var (campaign, stores) = await ReportOptions.OpenAsync(result, options, result.GetValue(json) ? null : result.GetValue(csv) ? Console.Error : Console.Out, ct)
                .ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var store = stores.Reports;
                return await ReportOptions.WithTimeLimitAsync(limit, ct, async token =>
                {
                    var eventWindow = new EventWindow(campaign.Id, window.From, window.To);
                    var report = await CampaignReportBuilder.BuildAsync(store, eventWindow, engagement, CampaignTemplates.ReadLinks(campaign), null, token)
                        .ConfigureAwait(false);
                    // Nothing in the report: tell a campaign unknown to this store (no plan, no event at all) from a quiet one.
                    if (report.Delivery.Total == 0 && report.Timeline.Count == 0
                        && await store.GetDeliveryAsync(campaign.Id, token).ConfigureAwait(false) is null
                        && await store.GetEventSpanAsync(new EventWindow(campaign.Id), token).ConfigureAwait(false) is null)
                    {
                        throw new HeraldException($"{stores.Location.Display}: campaign '{campaign.Id}' has no plan and no events in this store.");
                    }
                    if (result.GetValue(json))
                    {
                        Console.WriteLine(StoreOutput.WithStore(CampaignReportFormats.ToJson(report), stores.Location));
                    }
                    else if (result.GetValue(csv))
                    {
                        Console.Write(CampaignReportFormats.ToCsv(report));
                    }
                    else
                    {
                        Print(report);
                    }

                    if (result.GetValue(recipients) is { } export)
                    {
                        var rows = await ExportRecipientsAsync(export, store, eventWindow, engagement, token).ConfigureAwait(false);
                        Console.Error.WriteLine($"{rows} recipient row(s) written to {export}");
                    }

                    return CliRunner.Ok;
                }).ConfigureAwait(false);
            }
        }));
        return command;
    }

    private static void Print(CampaignReport r)
    {
        var d = r.Delivery;
        AnsiConsole.MarkupLine($"[bold]Campaign {Markup.Escape(r.Campaign)}[/]");
        var delivery = new Table().Title("Delivery").AddColumns("total", "sent", "failed", "in doubt", "skipped", "pending");
        delivery.AddRow(N(d.Total), N(d.Sent), N(d.Failed), N(d.InDoubt), N(d.Skipped), N(d.Pending + d.Sending));
        AnsiConsole.Write(delivery);
        var bounces = new Table().Title("Bounces and complaints (recipients)").AddColumns("bounced", "hard", "soft", "complaints");
        bounces.AddRow(N(d.Bounces.Bounced), N(d.Bounces.Hard), N(d.Bounces.Soft), N(d.Bounces.Complaints));
        AnsiConsole.Write(bounces);
        if (d.FailedByCode.Count > 0)
        {
            var failures = new Table().Title("Failed by SMTP code").AddColumns("code", "count", "example reply");
            foreach (var f in d.FailedByCode)
            {
                failures.AddRow(f.Code?.ToString(CultureInfo.InvariantCulture) ?? "none", N(f.Count), Markup.Escape(f.SampleText ?? string.Empty));
            }

            AnsiConsole.Write(failures);
        }

        if (d.SkippedByReason.Count > 0)
        {
            var skips = new Table().Title("Skipped by reason").AddColumns("reason", "count");
            foreach (var (reason, count) in d.SkippedByReason)
            {
                skips.AddRow(Markup.Escape(reason), N(count));
            }

            AnsiConsole.Write(skips);
        }

        var engagement = new Table().Title("Engagement (unique = recipients)").AddColumns("", "raw", "human");
        engagement.AddRow("opens", N(r.Raw.Opens), N(r.Human.Opens));
        engagement.AddRow("unique opens", N(r.Raw.UniqueOpens), N(r.Human.UniqueOpens));
        engagement.AddRow("clicks", N(r.Raw.Clicks), N(r.Human.Clicks));
        engagement.AddRow("unique clicks", N(r.Raw.UniqueClicks), N(r.Human.UniqueClicks));
        engagement.AddRow("unsubscribes", N(r.Raw.Unsubscribes), N(r.Human.Unsubscribes));
        AnsiConsole.Write(engagement);

        var rates = new Table().Title("Rates").AddColumns("", "raw", "human", "of");
        foreach (var rate in r.Rates)
        {
            rates.AddRow(
                Markup.Escape(rate.Label),
                $"{P(rate.Raw)} ({N(rate.RawNumerator)} / {N(rate.RawDenominator)})",
                $"{P(rate.Human)} ({N(rate.HumanNumerator)} / {N(rate.HumanDenominator)})",
                Markup.Escape($"{rate.Numerator} / {rate.Denominator}"));
        }

        AnsiConsole.Write(rates);
        if (r.Links.Count > 0)
        {
            var links = new Table().Title("Links").AddColumns("#", "link", "clicks", "unique", "human", "human unique");
            foreach (var l in r.Links)
            {
                links.AddRow(N(l.LinkNumber), Markup.Escape(l.Url is null ? l.Label : $"{l.Label} ({l.Url})"), N(l.Clicks), N(l.UniqueClicks), N(l.HumanClicks), N(l.HumanUniqueClicks));
                foreach (var t in l.Targets)
                {
                    links.AddRow(string.Empty, Markup.Escape($"  → {t.Url}"), N(t.Clicks), N(t.UniqueClicks), N(t.HumanClicks), N(t.HumanUniqueClicks));
                }

                if (l.OtherTargets is { } other)
                {
                    links.AddRow(string.Empty, $"  → {(other.Targets is { } n ? N(n) : "more")} other target(s)", N(other.Clicks), string.Empty, N(other.HumanClicks), string.Empty);
                }
            }

            AnsiConsole.Write(links);
        }

        var first = new Table().Title("Time to first open / click (median, after delivery)").AddColumns("", "raw", "human");
        first.AddRow("open", Median(r.TimeToFirstOpen.Raw), Median(r.TimeToFirstOpen.Human));
        first.AddRow("click", Median(r.TimeToFirstClick.Raw), Median(r.TimeToFirstClick.Human));
        AnsiConsole.Write(first);

        var busy = r.Timeline.Where(p => p.Opens + p.Clicks + p.Unsubscribes > 0).ToList();
        if (busy.Count > 0)
        {
            const int Shown = 48;
            var timeline = new Table().Title("Over time (UTC; buckets widen from 1 min to 1 day)").AddColumns("from", "length", "opens", "human opens", "clicks", "human clicks");
            foreach (var p in busy.Take(Shown))
            {
                timeline.AddRow(p.Start.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), Length(p.Seconds), N(p.Opens), N(p.HumanOpens), N(p.Clicks), N(p.HumanClicks));
            }

            if (busy.Count > Shown)
            {
                timeline.Caption($"{busy.Count - Shown} more bucket(s): see --json or --csv");
            }

            AnsiConsole.Write(timeline);
        }

        var flagged = r.BotFlags.Where(f => f.Value > 0).ToList();
        if (flagged.Count > 0)
        {
            AnsiConsole.MarkupLine("Flagged as machine activity: " + Markup.Escape(string.Join(", ", flagged.Select(f => $"{f.Key} {N(f.Value)}"))));
        }

        if (r.Bots.VolumeRecipients > 0)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"{N(r.Bots.VolumeRecipients)} recipient(s) with more than {N(r.Bots.MaxEventsPerRecipient)} opens or clicks counted as bots ({N(r.Bots.VolumeEvents)} events)."));
        }

        static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        static string P(double? value) => value is { } v ? v.ToString("P1", CultureInfo.InvariantCulture) : "–";
        static string Median(DelayStats s) => s.MedianSeconds is { } m ? $"{Length((long)m)} ({N(s.Recipients)} recipients)" : "–";
        static string Length(long seconds) => seconds switch
        {
            < 60 => $"{seconds} s",
            < 3_600 => $"{seconds / 60} min",
            < 86_400 => $"{seconds / 3_600.0:0.#} h",
            _ => $"{seconds / 86_400.0:0.#} d",
        };
    }

    private static async Task<long> ExportRecipientsAsync(string path, IReportStore store, EventWindow window, EngagementOptions options, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        long rows;
        try
        {
            var writer = new StreamWriter(temp, append: false, new UTF8Encoding(false), bufferSize: 1 << 16);
            await using (writer.ConfigureAwait(false))
            {
                rows = await RecipientExport.WriteCsvAsync(store, window, options, writer, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        // Written aside and moved into place, so a failed export never leaves half a file under the asked name.
        File.Move(temp, path, overwrite: true);
        return rows;
    }
}
