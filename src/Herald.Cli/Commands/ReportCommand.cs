using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Herald.Campaigns;
using Herald.Cli.Stores;
using Herald.Store;
using Herald.Tracking;
using Spectre.Console;

namespace Herald.Cli.Commands;

/// <summary><c>herald report</c>: delivery and engagement (raw and human) of one campaign; optional per-recipient export.</summary>
internal static class ReportCommand
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
    };

    public static Command Create()
    {
        var campaign = new Argument<string>("campaign") { Description = "The campaign file (campaign.yml)." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var csv = new Option<bool>("--csv") { Description = "Print the report as CSV rows: section,name,raw,human." };
        var recipients = new Option<string?>("--recipients") { Description = "Also write one CSV row per recipient (state, SMTP reply, opened, clicked, unsubscribed) to this file." };
        var db = DbOption.Create();
        var command = new Command("report", "Delivery and engagement numbers of a campaign.") { campaign, json, csv, recipients, db };
        command.SetAction((result, ct) => CliRunner.RunAsync(async () =>
        {
            if (result.GetValue(json) && result.GetValue(csv))
            {
                throw new HeraldException("--json and --csv exclude each other.");
            }

            var file = result.GetValue(campaign)!;
            var id = CampaignLoader.Load(file).Id;
            var location = StoreLocator.Resolve(result.GetValue(db), file);
            if (result.GetValue(csv))
            {
                // CSV goes to stdout for a spreadsheet: the store line must not become its first row.
                Console.Error.WriteLine(location.Line);
            }
            else if (!result.GetValue(json))
            {
                Console.WriteLine(location.Line);
            }

            var stores = await StoreFactory.OpenAsync(location, StoreAccess.ReadOnly, ct).ConfigureAwait(false);
            await using (stores.ConfigureAwait(false))
            {
                var ledger = stores.Delivery;
                var tracking = stores.Tracking;
                {
                    if (await ledger.GetPlanAsync(id, ct).ConfigureAwait(false) is null
                        && (await tracking.GetEventCountsAsync(id, ct).ConfigureAwait(false)).Total == 0)
                    {
                        throw new HeraldException($"{location.Display}: campaign '{id}' has no plan and no events in this store.");
                    }

                    var (report, analyzer) = await CampaignReportBuilder.BuildAsync(id, ledger, tracking, null, ct).ConfigureAwait(false);
                    if (result.GetValue(json))
                    {
                        Console.WriteLine(StoreOutput.WithStore(JsonSerializer.Serialize(report, Json), location));
                    }
                    else if (result.GetValue(csv))
                    {
                        Console.Write(ToCsv(report));
                    }
                    else
                    {
                        Print(report);
                    }

                    if (result.GetValue(recipients) is { } export)
                    {
                        var rows = await ExportRecipientsAsync(export, id, ledger, analyzer, ct).ConfigureAwait(false);
                        Console.Error.WriteLine($"{rows} recipient row(s) written to {export}");
                    }

                    return CliRunner.Ok;
                }
            }
        }));
        return command;
    }

    internal static string ToCsv(CampaignReport r)
    {
        var text = new StringBuilder();
        text.Append("section,name,raw,human\n");
        void Row(string section, string name, object? raw, object? human = null) => text.Append(Csv.Line(section, name, raw, human)).Append('\n');
        var d = r.Delivery;
        Row("delivery", "total", d.Total);
        Row("delivery", "sent", d.Sent);
        Row("delivery", "failed", d.Failed);
        Row("delivery", "in_doubt", d.InDoubt);
        Row("delivery", "skipped", d.Skipped);
        Row("delivery", "pending", d.Pending + d.Sending);
        foreach (var f in d.FailedByCode)
        {
            Row("failed_by_code", f.Code?.ToString(CultureInfo.InvariantCulture) ?? "none", f.Count);
        }

        foreach (var (reason, count) in d.SkippedByReason)
        {
            Row("skipped_by_reason", reason, count);
        }

        Row("engagement", "opens", r.Raw.Opens, r.Human.Opens);
        Row("engagement", "unique_opens", r.Raw.UniqueOpens, r.Human.UniqueOpens);
        Row("engagement", "clicks", r.Raw.Clicks, r.Human.Clicks);
        Row("engagement", "unique_clicks", r.Raw.UniqueClicks, r.Human.UniqueClicks);
        Row("engagement", "click_through_rate", r.RawRates.ClickThroughRate, r.HumanRates.ClickThroughRate);
        Row("engagement", "click_to_open_rate", r.RawRates.ClickToOpenRate, r.HumanRates.ClickToOpenRate);
        Row("engagement", "unsubscribes", r.Raw.Unsubscribes, r.Human.Unsubscribes);
        foreach (var l in r.Links)
        {
            Row("link_clicks", l.Url ?? $"link {l.LinkNumber}", l.Clicks, l.HumanClicks);
            Row("link_unique_clicks", l.Url ?? $"link {l.LinkNumber}", l.UniqueClicks, l.HumanUniqueClicks);
        }

        foreach (var p in r.Timeline)
        {
            var at = p.Start.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            Row("opens_over_time", at, p.Opens, p.HumanOpens);
            Row("clicks_over_time", at, p.Clicks, p.HumanClicks);
        }

        foreach (var (flag, count) in r.BotFlags)
        {
            Row("bot_flags", flag, count);
        }

        return text.ToString();
    }

    private static void Print(CampaignReport r)
    {
        var d = r.Delivery;
        AnsiConsole.MarkupLine($"[bold]Campaign {Markup.Escape(r.Campaign)}[/]");
        var delivery = new Table().Title("Delivery").AddColumns("total", "sent", "failed", "in doubt", "skipped", "pending");
        delivery.AddRow(N(d.Total), N(d.Sent), N(d.Failed), N(d.InDoubt), N(d.Skipped), N(d.Pending + d.Sending));
        AnsiConsole.Write(delivery);
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

        var engagement = new Table().Title("Engagement").AddColumns("", "raw", "human");
        engagement.AddRow("opens", N(r.Raw.Opens), N(r.Human.Opens));
        engagement.AddRow("unique opens", N(r.Raw.UniqueOpens), N(r.Human.UniqueOpens));
        engagement.AddRow("clicks", N(r.Raw.Clicks), N(r.Human.Clicks));
        engagement.AddRow("unique clicks", N(r.Raw.UniqueClicks), N(r.Human.UniqueClicks));
        engagement.AddRow("click-through rate", P(r.RawRates.ClickThroughRate), P(r.HumanRates.ClickThroughRate));
        engagement.AddRow("click-to-open rate", P(r.RawRates.ClickToOpenRate), P(r.HumanRates.ClickToOpenRate));
        engagement.AddRow("unsubscribes", N(r.Raw.Unsubscribes), N(r.Human.Unsubscribes));
        AnsiConsole.Write(engagement);
        if (r.Links.Count > 0)
        {
            var links = new Table().Title("Links").AddColumns("#", "url", "clicks", "unique", "human", "human unique");
            foreach (var l in r.Links)
            {
                links.AddRow(N(l.LinkNumber), Markup.Escape(l.Url ?? string.Empty), N(l.Clicks), N(l.UniqueClicks), N(l.HumanClicks), N(l.HumanUniqueClicks));
            }

            AnsiConsole.Write(links);
        }

        if (r.Timeline.Count > 0)
        {
            var timeline = new Table().Title($"Over time ({r.BucketSeconds / 60} min buckets, UTC)").AddColumns("from", "opens", "human opens", "clicks", "human clicks");
            foreach (var p in r.Timeline)
            {
                timeline.AddRow(p.Start.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture), N(p.Opens), N(p.HumanOpens), N(p.Clicks), N(p.HumanClicks));
            }

            AnsiConsole.Write(timeline);
        }

        if (r.BotFlags.Count > 0)
        {
            AnsiConsole.MarkupLine("Flagged as machine activity: " + Markup.Escape(string.Join(", ", r.BotFlags.Select(f => $"{f.Key} {f.Value}"))));
        }

        static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
        static string P(double? value) => value is { } v ? v.ToString("P1", CultureInfo.InvariantCulture) : "–";
    }

    private static async Task<long> ExportRecipientsAsync(string path, string campaignId, IDeliveryStore ledger, EngagementAnalyzer analyzer, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        long rows = 0;
        var writer = new StreamWriter(temp, append: false, new UTF8Encoding(false));
        await using (writer.ConfigureAwait(false))
        {
            writer.NewLine = "\n";
            await writer.WriteLineAsync("email,recipient_id,state,smtp_code,smtp_text,attempts,skip_reason,opened,clicked,unsubscribed".AsMemory(), cancellationToken).ConfigureAwait(false);
            await foreach (var row in ledger.ReadRecipientsAsync(campaignId, cancellationToken).ConfigureAwait(false))
            {
                var e = analyzer.GetRecipient(row.RecipientId);
                await writer.WriteLineAsync(Csv.Line(row.Email, row.RecipientId, row.State.ToName(), row.SmtpCode, row.SmtpText, row.Attempts, row.SkipReason,
                    e?.Opened ?? false, e?.Clicked ?? false, e?.Unsubscribed ?? false).AsMemory(), cancellationToken).ConfigureAwait(false);
                rows++;
            }
        }

        // Written aside and moved into place, so a failed export never leaves half a file under the asked name.
        File.Move(temp, path, overwrite: true);
        return rows;
    }
}
