using System.Text.Json;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;

namespace Herald.Cli.Tests.Commands;

public sealed class ReportCommandTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-report-").FullName;

    private string CampaignFile => Path.Combine(_dir, "campaign.yml");

    private string Db => Path.Combine(_dir, "herald.db");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await File.WriteAllTextAsync(CampaignFile, """
            id: spring
            from: "Shop <news@shop.example.com>"
            subject: "Hello {{ first_name }}"
            html: body.html
            recipients: recipients.csv
            tracking: { base_url: "https://t.shop.example.com" }
            postal_address: "Shop Inc., 1 Market St"
            relays:
              - url: smtp://127.0.0.1:2525
            """, Ct);
        await File.WriteAllTextAsync(Path.Combine(_dir, "body.html"), "<p>Hi {{ first_name }} <a href=\"https://shop.example.com/a\">a</a></p>", Ct);
        await File.WriteAllTextAsync(Path.Combine(_dir, "recipients.csv"), "email,first_name\nr1@shop.example.com,Ann\n", Ct);
        await SeedAsync();
    }

    public ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task Json_report_has_delivery_and_raw_and_human_engagement()
    {
        var result = await HeraldProcess.RunAsync("report", CampaignFile, "--json");

        Assert.True(result.Exit == 0, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.Equal("spring", root.GetProperty("campaign").GetString());
        var delivery = root.GetProperty("delivery");
        Assert.Equal((5, 2, 1, 2), (delivery.GetProperty("total").GetInt64(), delivery.GetProperty("sent").GetInt64(),
            delivery.GetProperty("failed").GetInt64(), delivery.GetProperty("skipped").GetInt64()));
        var failure = delivery.GetProperty("failed_by_code")[0];
        Assert.Equal((550, 1L), (failure.GetProperty("code").GetInt32(), failure.GetProperty("count").GetInt64()));
        Assert.Equal(2, delivery.GetProperty("skipped_by_reason").GetProperty("suppressed").GetInt64());
        Assert.Equal((2L, 1L), (root.GetProperty("raw").GetProperty("unique_clicks").GetInt64(), root.GetProperty("human").GetProperty("unique_clicks").GetInt64()));
        Assert.Equal((2L, 1L), (root.GetProperty("raw").GetProperty("unique_opens").GetInt64(), root.GetProperty("human").GetProperty("unique_opens").GetInt64()));
        Assert.Equal(1, root.GetProperty("raw").GetProperty("unsubscribes").GetInt64());
        Assert.Equal(1.0, root.GetProperty("raw_rates").GetProperty("click_through_rate").GetDouble());
        Assert.Equal(0.5, root.GetProperty("human_rates").GetProperty("click_through_rate").GetDouble());
        var ctr = root.GetProperty("rates").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "click_through_rate");
        Assert.Equal(("unique clicks", "sent", 1L, 2L), (ctr.GetProperty("numerator").GetString(), ctr.GetProperty("denominator").GetString(),
            ctr.GetProperty("human_numerator").GetInt64(), ctr.GetProperty("human_denominator").GetInt64()));
        var link = root.GetProperty("links")[0];
        Assert.Equal(("https://shop.example.com/a", "a", 2L, 1L), (link.GetProperty("url").GetString(), link.GetProperty("label").GetString(),
            link.GetProperty("clicks").GetInt64(), link.GetProperty("human_clicks").GetInt64()));
        Assert.Equal(2, link.GetProperty("unique_clicks").GetInt64());
        Assert.Equal(1, link.GetProperty("human_unique_clicks").GetInt64());
        Assert.NotEqual(0, root.GetProperty("timeline").GetArrayLength());
        Assert.Equal(60, root.GetProperty("timeline")[0].GetProperty("seconds").GetInt64());
        Assert.Equal(EngagementOptions.DefaultMaxEventsPerRecipient, root.GetProperty("bots").GetProperty("max_events_per_recipient").GetInt32());
    }

    [Fact]
    public async Task Csv_report_puts_raw_and_human_side_by_side()
    {
        var result = await HeraldProcess.RunAsync("report", CampaignFile, "--csv", "--db", Db);

        Assert.True(result.Exit == 0, result.Error);
        var lines = result.Out.Split('\n');
        Assert.Equal("section,name,raw,human", lines[0]);
        Assert.Contains("engagement,unique_clicks,2,1", lines);
        Assert.Contains("failed_by_code,550,1,", lines);
        Assert.Contains("link_clicks,1 a,2,1", lines);
        Assert.Contains("rates,click_through_rate,1,0.5", lines);
        Assert.Contains("rate_denominator,click_through_rate: sent,2,2", lines);
        Assert.Contains("bot_flags,scanner,1,", lines);
    }

    [Fact]
    public async Task Recipients_export_lists_every_recipient_with_state_reply_and_engagement()
    {
        var export = Path.Combine(_dir, "who.csv");

        var result = await HeraldProcess.RunAsync("report", CampaignFile, "--recipients", export);

        Assert.True(result.Exit == 0, result.Error);
        var lines = await File.ReadAllLinesAsync(export, Ct);
        Assert.Equal(RecipientExport.Header, lines[0]);
        Assert.StartsWith("email,recipient_id,state,smtp_code,smtp_text,attempts,skip_reason,opened,clicked,unsubscribed,", lines[0], StringComparison.Ordinal);
        Assert.Equal(6, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("r1@shop.example.com,r1,sent,250,2.0.0 ok,1,,true,true,true,true,true,1,1,", StringComparison.Ordinal));
        // r2's open came through Apple's proxy and its click from a scanner: opened and clicked, neither by a person.
        Assert.Contains(lines, l => l.StartsWith("r2@shop.example.com,r2,sent,250,2.0.0 ok,1,,true,true,false,false,false,1,1,", StringComparison.Ordinal));
        Assert.Contains("r3@shop.example.com,r3,failed,550,\"5.1.1 no such user, sorry\",1,,false,false,false,false,false,0,0,,,false,,,false", lines);
        Assert.Contains("r5@shop.example.com,r5,skipped,,,0,suppressed,false,false,false,false,false,0,0,,,false,,,false", lines);
    }

    [Fact]
    public async Task Human_table_is_printed_by_default()
    {
        var result = await HeraldProcess.RunAsync("report", CampaignFile);

        Assert.True(result.Exit == 0, result.Error);
        Assert.Contains("Engagement", result.Out, StringComparison.Ordinal);
        Assert.Contains("unique clicks", result.Out, StringComparison.Ordinal);
        Assert.Contains("550", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_store_is_a_clean_error()
    {
        var result = await HeraldProcess.RunAsync("report", CampaignFile, "--db", Path.Combine(_dir, "none.db"));

        Assert.Equal(1, result.Exit);
        Assert.Contains($"no store found: {Path.Combine(_dir, "none.db")} (from --db)", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "none.db")), "report only reads: it must not create a store");
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_campaign_the_store_does_not_know_is_a_clean_error_and_a_quiet_window_is_not()
    {
        var other = Path.Combine(_dir, "other.yml");
        await File.WriteAllTextAsync(other, (await File.ReadAllTextAsync(CampaignFile, Ct)).Replace("id: spring", "id: autumn", StringComparison.Ordinal), Ct);

        var unknown = await HeraldProcess.RunAsync("report", other, "--json", "--db", Db);
        // Known campaign, a window before any of its events: an empty report, not an error.
        var quiet = await HeraldProcess.RunAsync("report", CampaignFile, "--json", "--db", Db, "--from", "2001-01-01T00:00:00Z", "--to", "2001-01-02T00:00:00Z");

        Assert.Equal(1, unknown.Exit);
        Assert.Contains("campaign 'autumn' has no plan and no events in this store", unknown.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", unknown.Error, StringComparison.Ordinal);
        Assert.True(quiet.Exit == 0, quiet.Error);
        Assert.Equal(0, JsonDocument.Parse(quiet.Out).RootElement.GetProperty("raw").GetProperty("clicks").GetInt64());
    }

    [Fact]
    public async Task A_date_range_reports_only_its_events()
    {
        var result = await HeraldProcess.RunAsync("report", CampaignFile, "--json", "--from", "2000-01-01", "--to", "2000-01-02");

        Assert.True(result.Exit == 0, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal(0, json.RootElement.GetProperty("raw").GetProperty("opens").GetInt64());
        Assert.Equal(2, json.RootElement.GetProperty("delivery").GetProperty("sent").GetInt64());
        Assert.StartsWith("2000-01-01", json.RootElement.GetProperty("range").GetProperty("from").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_options_are_clear_errors()
    {
        var time = await HeraldProcess.RunAsync("report", CampaignFile, "--from", "yesterday");
        var timeout = await HeraldProcess.RunAsync("report", CampaignFile, "--timeout", "soon");
        var threshold = await HeraldProcess.RunAsync("report", CampaignFile, "--max-events-per-recipient", "0");

        Assert.Equal((1, 1, 1), (time.Exit, timeout.Exit, threshold.Exit));
        Assert.Contains("--from: 'yesterday' is not a time", time.Error, StringComparison.Ordinal);
        Assert.Contains("--timeout: 'soon' is not a duration", timeout.Error, StringComparison.Ordinal);
        Assert.Contains("bot threshold", threshold.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", time.Error + timeout.Error + threshold.Error, StringComparison.Ordinal);
    }

    private async Task SeedAsync()
    {
        await using (var ledger = await SqliteDeliveryStore.OpenAsync(Db, Ct))
        {
            await using (var writer = await ledger.BeginPlanAsync("spring", "f1", Ct))
            {
                PlanEntry Entry(int i, string? skip = null) => new($"r{i}", $"r{i}@shop.example.com", "{}"u8.ToArray(), skip, $"<r{i}@t>");
                await writer.AddAsync([Entry(1), Entry(2), Entry(3), Entry(4, "suppressed"), Entry(5, "suppressed")], Ct);
                await writer.CommitAsync(Ct);
            }

            await ledger.RecoverAsync("spring", "w1", Ct);
            var claimed = await ledger.ClaimAsync("spring", "w1", 10, TimeSpan.FromMinutes(1), Ct);
            var result = await ledger.CommitAsync("w1", [.. claimed.Select(c => c.Claimed)], [], Ct);
            var marked = claimed.Where(c => result.Marked.Contains(c.Id)).OrderBy(c => c.Id).ToList();
            await ledger.CommitAsync("w1", [],
            [
                new Outcome(marked[0].Id, marked[0].Token, DeliveryState.Sent, 250, "2.0.0 ok", "relay"),
                new Outcome(marked[1].Id, marked[1].Token, DeliveryState.Sent, 250, "2.0.0 ok", "relay"),
                new Outcome(marked[2].Id, marked[2].Token, DeliveryState.Failed, 550, "5.1.1 no such user, sorry", "relay"),
            ], Ct);
        }

        var later = DateTimeOffset.UtcNow.AddHours(1);
        TrackingEvent E(TrackingEventKind kind, string r, int minutes, EventFlags flags = EventFlags.None, string? ua = "Mozilla/5.0 (X11)") =>
            new(Guid.CreateVersion7(), later.AddMinutes(minutes), kind, "spring", r, kind == TrackingEventKind.Click ? 1 : 0,
                kind == TrackingEventKind.Click ? "https://shop.example.com/a" : null, "GET", ua, "203.0.113.0/24", flags);
        await using var tracking = new SqliteTrackingStore(Db);
        await tracking.MigrateAsync(Ct);
        await tracking.AppendEventsAsync(
        [
            E(TrackingEventKind.Open, "r1", 0),
            E(TrackingEventKind.Click, "r1", 1),
            E(TrackingEventKind.Unsubscribe, "r1", 2),
            E(TrackingEventKind.Open, "r2", 0, EventFlags.AppleMpp, "Mozilla/5.0"),
            E(TrackingEventKind.Click, "r2", 0, EventFlags.Scanner, "Barracuda"),
        ], Ct);
    }
}
