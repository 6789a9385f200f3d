using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Herald.Tracking;

/// <summary>The report's JSON and CSV forms: one definition, so <c>herald report</c> and the dashboard print the same numbers.</summary>
public static class CampaignReportFormats
{
    /// <summary>snake_case keys, ISO 8601 times, enums by name.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The same as <see cref="Json"/>, on one line (the dashboard's API and live stream).</summary>
    public static readonly JsonSerializerOptions CompactJson = new(Json) { WriteIndented = false };

    public static string ToJson(CampaignReport report, bool indented = true) =>
        JsonSerializer.Serialize(report, indented ? Json : CompactJson);

    /// <summary>Rows <c>section,name,raw,human</c>; each rate has its numerator and denominator counts in the rows after it.</summary>
    public static string ToCsv(CampaignReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        text.Append("section,name,raw,human\n");
        void Row(string section, string name, object? raw, object? human = null) => text.Append(Csv.Line(section, name, raw, human)).Append('\n');
        var d = report.Delivery;
        Row("delivery", "total", d.Total);
        Row("delivery", "sent", d.Sent);
        Row("delivery", "failed", d.Failed);
        Row("delivery", "in_doubt", d.InDoubt);
        Row("delivery", "skipped", d.Skipped);
        Row("delivery", "pending", d.Pending + d.Sending);
        Row("delivery", "bounced", d.Bounces.Bounced);
        Row("delivery", "hard_bounced", d.Bounces.Hard);
        Row("delivery", "soft_bounced", d.Bounces.Soft);
        Row("delivery", "complaints", d.Bounces.Complaints);
        foreach (var f in d.FailedByCode)
        {
            Row("failed_by_code", f.Code?.ToString(CultureInfo.InvariantCulture) ?? "none", f.Count);
        }

        foreach (var (reason, count) in d.SkippedByReason)
        {
            Row("skipped_by_reason", reason, count);
        }

        Row("engagement", "opens", report.Raw.Opens, report.Human.Opens);
        Row("engagement", "unique_opens", report.Raw.UniqueOpens, report.Human.UniqueOpens);
        Row("engagement", "clicks", report.Raw.Clicks, report.Human.Clicks);
        Row("engagement", "unique_clicks", report.Raw.UniqueClicks, report.Human.UniqueClicks);
        Row("engagement", "opened_or_clicked", report.Raw.OpenedOrClicked, report.Human.OpenedOrClicked);
        Row("engagement", "unsubscribes", report.Raw.Unsubscribes, report.Human.Unsubscribes);
        foreach (var r in report.Rates)
        {
            Row("rates", r.Name, r.Raw, r.Human);
            Row("rate_numerator", $"{r.Name}: {r.Numerator}", r.RawNumerator, r.HumanNumerator);
            Row("rate_denominator", $"{r.Name}: {r.Denominator}", r.RawDenominator, r.HumanDenominator);
        }

        foreach (var l in report.Links)
        {
            var name = $"{l.LinkNumber} {l.Label}";
            Row("link_clicks", name, l.Clicks, l.HumanClicks);
            Row("link_unique_clicks", name, l.UniqueClicks, l.HumanUniqueClicks);
            foreach (var t in l.Targets)
            {
                Row("target_clicks", $"{l.LinkNumber} {t.Url}", t.Clicks, t.HumanClicks);
                Row("target_unique_clicks", $"{l.LinkNumber} {t.Url}", t.UniqueClicks, t.HumanUniqueClicks);
            }
        }

        foreach (var p in report.Timeline)
        {
            var at = p.Start.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            Row("opens_over_time", at, p.Opens, p.HumanOpens);
            Row("clicks_over_time", at, p.Clicks, p.HumanClicks);
        }

        Row("time_to_first_open", "median_seconds", report.TimeToFirstOpen.Raw.MedianSeconds, report.TimeToFirstOpen.Human.MedianSeconds);
        Row("time_to_first_click", "median_seconds", report.TimeToFirstClick.Raw.MedianSeconds, report.TimeToFirstClick.Human.MedianSeconds);
        foreach (var (flag, count) in report.BotFlags)
        {
            Row("bot_flags", flag, count);
        }

        Row("bots", "volume_recipients", report.Bots.VolumeRecipients);
        return text.ToString();
    }
}
