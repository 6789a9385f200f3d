using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Herald.Prepare;

/// <summary>What a prepare run read and decided: the summary printed by <c>herald prepare</c>.</summary>
public sealed class PrepareManifest
{
    public required string CampaignId { get; init; }

    public required string Fingerprint { get; init; }

    /// <summary>Recipient rows read from the recipients file.</summary>
    public long RowsRead { get; init; }

    /// <summary>Rows planned as <c>pending</c>.</summary>
    public long Deliverable { get; init; }

    /// <summary>Skipped rows per reason (<c>invalid</c>, <c>duplicate</c>, <c>suppressed</c>, <c>missing:NAME</c>), ordered by reason.</summary>
    public required IReadOnlyDictionary<string, long> Skipped { get; init; }

    public long SkippedTotal => Skipped.Values.Sum();

    public required IReadOnlyList<DataSetManifest> DataSets { get; init; }

    /// <summary>The fused passes the plan ran as, for <c>--json</c> readers and the curious.</summary>
    public required IReadOnlyList<string> Passes { get; init; }

    public TimeSpan Elapsed { get; init; }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("campaign", CampaignId);
            json.WriteString("fingerprint", Fingerprint);
            json.WriteNumber("rows_read", RowsRead);
            json.WriteNumber("deliverable", Deliverable);
            json.WriteNumber("skipped_total", SkippedTotal);
            json.WriteStartObject("skipped");
            foreach (var (reason, count) in Skipped)
            {
                json.WriteNumber(reason, count);
            }

            json.WriteEndObject();
            json.WriteStartArray("data_sets");
            foreach (var set in DataSets)
            {
                json.WriteStartObject();
                json.WriteString("name", set.Name);
                json.WriteString("file", set.File);
                json.WriteNumber("rows_read", set.RowsRead);
                json.WriteNumber("rows_matched", set.RowsMatched);
                json.WriteNumber("spilled_runs", set.SpilledRuns);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("passes");
            foreach (var pass in Passes)
            {
                json.WriteStringValue(pass);
            }

            json.WriteEndArray();
            json.WriteNumber("elapsed_ms", (long)Elapsed.TotalMilliseconds);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Plain-text lines, for logs and non-terminal output.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"campaign     {CampaignId}");
        text.AppendLine(c, $"rows read    {RowsRead:N0}");
        text.AppendLine(c, $"deliverable  {Deliverable:N0}");
        text.AppendLine(c, $"skipped      {SkippedTotal:N0}");
        foreach (var (reason, count) in Skipped)
        {
            text.AppendLine(c, $"  {reason,-18} {count:N0}");
        }

        foreach (var set in DataSets)
        {
            text.AppendLine(c, $"data {set.Name}: {set.RowsRead:N0} rows read, {set.RowsMatched:N0} matched, {set.SpilledRuns} spilled runs");
        }

        return text.ToString();
    }
}

/// <summary>What was read from one joined data set.</summary>
public sealed record DataSetManifest(string Name, string File, long RowsRead, long RowsMatched, int SpilledRuns);

/// <summary>Skip reasons written to the plan.</summary>
public static class SkipReasons
{
    public const string Invalid = "invalid";
    public const string Duplicate = "duplicate";
    public const string Suppressed = "suppressed";

    public static string Missing(string dataSet) => "missing:" + dataSet;
}
