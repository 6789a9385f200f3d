using System.Text.Json;
using Herald.Tracking;

namespace Herald.Cli.Tests.Bounces;

/// <summary>Bounces and complaints in <c>herald report</c> and its recipients export, from a real send and a real import.</summary>
public sealed class BouncesReportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_5_1_1_at_rcpt_an_imported_soft_bounce_and_a_complaint_show_as_rates_with_denominators_and_as_export_columns()
    {
        using var campaign = await SentCampaign.CreateAsync(
            8, to => to == "user3@example.com" ? "5.1.1 <user3@example.com>: Recipient address rejected: User unknown" : null);
        var complainer = Index(campaign, "user5@example.com");
        var soft = Index(campaign, "user6@example.com");
        var folder = Path.Combine(campaign.Root, "collected");
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, "complaint.eml"), campaign.Corpus("yahoo-arf-complaint.eml", complainer), Ct);
        await File.WriteAllTextAsync(Path.Combine(folder, "soft.eml"), campaign.Corpus("gmail-over-quota-gave-up.eml", soft), Ct);
        var import = await HeraldProcess.RunAsync("bounces", "import", folder, "--db", campaign.Db, "--quarantine", campaign.Quarantine);
        Assert.True(import.Exit == 0, import.Out + import.Error);
        Assert.Contains("0 hard bounce(s), 1 soft, 1 complaint(s)", import.Out, StringComparison.Ordinal);

        var report = await HeraldProcess.RunAsync("report", campaign.CampaignFile, "--db", campaign.Db, "--json");

        Assert.True(report.Exit == 0, report.Out + report.Error);
        using var json = JsonDocument.Parse(report.Out);
        var delivery = json.RootElement.GetProperty("delivery");
        var bounces = delivery.GetProperty("bounces");
        Assert.Equal((1, 1, 2, 1), (bounces.GetProperty("hard").GetInt32(), bounces.GetProperty("soft").GetInt32(), bounces.GetProperty("bounced").GetInt32(), bounces.GetProperty("complaints").GetInt32()));
        Assert.Equal((7, 1), (delivery.GetProperty("sent").GetInt32(), delivery.GetProperty("failed").GetInt32()));
        var rates = json.RootElement.GetProperty("rates").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!);
        AssertRate(rates["bounce_rate"], 2, 8, "attempted (sent + failed + in doubt)");
        AssertRate(rates["hard_bounce_rate"], 1, 8, "attempted (sent + failed + in doubt)");
        AssertRate(rates["soft_bounce_rate"], 1, 8, "attempted (sent + failed + in doubt)");
        AssertRate(rates["complaint_rate"], 1, 7, "sent");
        Assert.Equal(1.0 / 7, json.RootElement.GetProperty("raw_rates").GetProperty("complaint_rate").GetDouble(), 9);

        var text = await HeraldProcess.RunAsync("report", campaign.CampaignFile, "--db", campaign.Db);
        Assert.True(text.Exit == 0, text.Out + text.Error);
        Assert.Contains("Bounces and complaints (recipients)", text.Out, StringComparison.Ordinal);
        Assert.Contains("Complaint rate", text.Out, StringComparison.Ordinal);
        Assert.Matches(@"Hard bounce rate\s*│\s*12\.5\s?% \(1 / 8\)", text.Out);

        var export = Path.Combine(campaign.Root, "who.csv");
        var exported = await HeraldProcess.RunAsync("report", campaign.CampaignFile, "--db", campaign.Db, "--recipients", export);
        Assert.True(exported.Exit == 0, exported.Out + exported.Error);
        var lines = await File.ReadAllLinesAsync(export, Ct);
        Assert.Equal(RecipientExport.Header, lines[0]);
        Assert.EndsWith(",bot,bounce_type,bounce_code,complained", lines[0], StringComparison.Ordinal);
        Assert.Equal(9, lines.Length);
        var byEmail = lines.Skip(1).ToDictionary(l => l[..l.IndexOf(',', StringComparison.Ordinal)]);
        Assert.StartsWith("user3@example.com,", byEmail["user3@example.com"], StringComparison.Ordinal);
        Assert.Contains(",failed,550,", byEmail["user3@example.com"], StringComparison.Ordinal);
        Assert.EndsWith(",hard,5.1.1,false", byEmail["user3@example.com"], StringComparison.Ordinal);
        Assert.EndsWith(",,,true", byEmail["user5@example.com"], StringComparison.Ordinal);
        Assert.Matches(",soft,[45]\\.[0-9]\\.[0-9]+,false$", byEmail["user6@example.com"]);
        Assert.EndsWith(",false,,,false", byEmail["user1@example.com"], StringComparison.Ordinal);
    }

    private static int Index(SentCampaign campaign, string email) =>
        campaign.Rows.Select((r, i) => (r.Email, i)).Single(r => r.Email == email).i;

    private static void AssertRate(JsonElement rate, int numerator, int denominator, string of)
    {
        Assert.Equal((numerator, denominator), (rate.GetProperty("raw_numerator").GetInt32(), rate.GetProperty("raw_denominator").GetInt32()));
        Assert.Equal((double)numerator / denominator, rate.GetProperty("raw").GetDouble(), 9);
        Assert.Equal(of, rate.GetProperty("denominator").GetString());
    }
}
