using System.Text.Json;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Cli.Tests.Commands;

public sealed class EventsCommandTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 4, 1, 10, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-events-").FullName;

    private string CampaignFile => Path.Combine(_dir, "campaign.yml");

    private string Db => Path.Combine(_dir, "herald.db");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await File.WriteAllTextAsync(CampaignFile, """
            id: spring
            from: "Shop <news@shop.example.com>"
            subject: "Hello"
            html: body.html
            recipients: recipients.csv
            tracking: { base_url: "https://t.shop.example.com" }
            postal_address: "Shop Inc., 1 Market St"
            relays:
              - url: smtp://127.0.0.1:2525
            """, Ct);
        await File.WriteAllTextAsync(Path.Combine(_dir, "body.html"), "<p><a href=\"https://shop.example.com/a\" data-herald-label=\"Hero\">a</a></p>", Ct);
        await File.WriteAllTextAsync(Path.Combine(_dir, "recipients.csv"), "email\nr1@shop.example.com\n", Ct);
        await using var tracking = new SqliteTrackingStore(Db);
        await tracking.MigrateAsync(Ct);
        await tracking.AppendEventsAsync(
        [
            new TrackingEvent(Guid.CreateVersion7(), T0.AddMinutes(5), TrackingEventKind.Click, "spring", "r1", 1, "https://shop.example.com/a", "HEAD", "curl/8", "203.0.113.0/24", EventFlags.Head | EventFlags.Scanner),
            new TrackingEvent(Guid.CreateVersion7(), T0, TrackingEventKind.Open, "spring", "r1", 0, null, "GET", "Mozilla/5.0, \"quoted\"", "203.0.113.0/24", EventFlags.None),
            new TrackingEvent(Guid.CreateVersion7(), T0.AddDays(1), TrackingEventKind.Unsubscribe, "spring", "r2", 0, null, "POST", null, null, EventFlags.None),
            new TrackingEvent(Guid.CreateVersion7(), T0, TrackingEventKind.Open, "autumn", "x", 0, null, "GET", null, null, EventFlags.None),
        ], Ct);
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Csv_export_has_every_event_of_the_campaign_oldest_first()
    {
        var result = await HeraldProcess.RunAsync("events", "export", CampaignFile);

        Assert.True(result.Exit == 0, result.Error);
        var lines = result.Out.TrimEnd('\n').Split('\n');
        Assert.Equal("event_id,at,kind,recipient_id,link,link_label,target,method,user_agent,client_network,flags", lines[0]);
        Assert.Equal(4, lines.Length);
        Assert.EndsWith(",2026-04-01T10:00:00.000Z,open,r1,,,,GET,\"Mozilla/5.0, \"\"quoted\"\"\",203.0.113.0/24,", lines[1], StringComparison.Ordinal);
        Assert.EndsWith(",2026-04-01T10:05:00.000Z,click,r1,1,Hero,https://shop.example.com/a,HEAD,curl/8,203.0.113.0/24,head|scanner", lines[2], StringComparison.Ordinal);
        Assert.Contains(",unsubscribe,r2,", lines[3], StringComparison.Ordinal);
        Assert.Contains("3 event(s) exported", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Jsonl_export_since_a_time_is_one_object_per_line()
    {
        var result = await HeraldProcess.RunAsync("events", "export", CampaignFile, "--since", "2026-04-01T10:01:00Z", "--format", "jsonl");

        Assert.True(result.Exit == 0, result.Error);
        var lines = result.Out.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        using var click = JsonDocument.Parse(lines[0]);
        Assert.Equal("click", click.RootElement.GetProperty("kind").GetString());
        Assert.Equal("r1", click.RootElement.GetProperty("recipient_id").GetString());
        Assert.Equal(1, click.RootElement.GetProperty("link").GetInt32());
        Assert.Equal("Hero", click.RootElement.GetProperty("link_label").GetString());
        Assert.Equal(["head", "scanner"], click.RootElement.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(T0.AddMinutes(5), click.RootElement.GetProperty("at").GetDateTimeOffset());
        using var unsubscribe = JsonDocument.Parse(lines[1]);
        Assert.Equal(JsonValueKind.Null, unsubscribe.RootElement.GetProperty("link").ValueKind);
    }

    [Fact]
    public async Task Bad_format_or_time_and_a_missing_store_are_clear_errors()
    {
        var format = await HeraldProcess.RunAsync("events", "export", CampaignFile, "--format", "xml");
        var since = await HeraldProcess.RunAsync("events", "export", CampaignFile, "--since", "last tuesday");
        var missing = await HeraldProcess.RunAsync("events", "export", CampaignFile, "--db", Path.Combine(_dir, "none.db"));

        Assert.NotEqual(0, format.Exit);
        Assert.Contains("xml", format.Error, StringComparison.Ordinal);
        Assert.Equal(1, since.Exit);
        Assert.Contains("--since: 'last tuesday' is not a time", since.Error, StringComparison.Ordinal);
        Assert.Equal(1, missing.Exit);
        Assert.Contains("no store found", missing.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "none.db")));
    }
}
