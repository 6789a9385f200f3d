using System.Text.Json;
using Herald.Sqlite;

namespace Herald.Cli.Tests.Commands;

/// <summary>Address normalization and comparison as the user meets it: prepare, suppress, a second campaign.</summary>
public sealed class AddressCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-cli-addresses-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private string WriteCampaign(string folder, string id, string recipients, string extra = "")
    {
        var path = Path.Combine(_dir, folder);
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "body.html"), "<p>Hi {{ email }}</p>");
        File.WriteAllText(Path.Combine(path, "recipients.csv"), "email\n" + recipients);
        File.WriteAllText(Path.Combine(path, "campaign.yml"), $"""
            id: {id}
            from: "Shop <news@shop.example.com>"
            subject: "Hi"
            html: body.html
            recipients: recipients.csv
            tracking: {"{"} base_url: "https://t.example.com" {"}"}
            postal_address: "1 Market St"
            relays:
              - url: smtp://127.0.0.1:2525
            {extra}
            """);
        return Path.Combine(path, "campaign.yml");
    }

    private static async Task<JsonDocument> PrepareAsync(string campaign, string db)
    {
        var (exit, output, error) = await HeraldProcess.RunAsync("prepare", campaign, "--db", db, "--json");
        Assert.True(exit == 0, error);
        return JsonDocument.Parse(output);
    }

    [Fact]
    public async Task Every_spelling_of_one_international_domain_is_one_recipient_sent_to_its_A_label()
    {
        var db = Path.Combine(_dir, "herald.db");
        // Uppercase, decomposed (u + combining diaeresis), precomposed, fullwidth letters, a zero-width space, and the
        // local part in another case.
        var campaign = WriteCampaign("spring", "spring",
            "zoe@B\u00dcCHER.example\nzoe@bu\u0308cher.example\nzoe@b\u00fccher.example\nzoe@\uFF42\u00fc\uFF43\uFF48\uFF45\uFF52.example\nzoe@b\u00fc\u200Bcher.example\nZOE@b\u00fccher.example\n");

        using var manifest = await PrepareAsync(campaign, db);
        Assert.Equal(1, manifest.RootElement.GetProperty("deliverable").GetInt64());
        Assert.Equal(5, manifest.RootElement.GetProperty("skipped").GetProperty("duplicate").GetInt64());
        await using var store = await SqliteDeliveryStore.OpenAsync(db, Ct);
        var sent = await store.ReadPendingAsync("spring", 10, Ct).ToListAsync(Ct);
        Assert.Equal("zoe@xn--bcher-kva.example", Assert.Single(sent).Email);
    }

    [Fact]
    public async Task An_address_suppressed_in_one_spelling_is_skipped_in_another_by_a_campaign_in_a_sibling_folder()
    {
        var db = Path.Combine(_dir, "herald.db");
        var (exit, _, error) = await HeraldProcess.RunAsync("suppress", "add", "ZOE@B\u00dcCHER.example", "--db", db);
        Assert.True(exit == 0, error);
        var campaign = WriteCampaign("autumn", "autumn", "Zoe@bu\u0308cher.example\nann@example.com\n");

        using var manifest = await PrepareAsync(campaign, db);
        Assert.Equal(1, manifest.RootElement.GetProperty("skipped").GetProperty("suppressed").GetInt64());
        Assert.Equal(1, manifest.RootElement.GetProperty("deliverable").GetInt64());
    }

    [Fact]
    public async Task A_case_sensitive_campaign_keeps_both_spellings_and_sends_each_as_the_list_gives_it()
    {
        var db = Path.Combine(_dir, "herald.db");
        var campaign = WriteCampaign("legacy", "legacy", "Zoe@example.com\nzoe@example.com\n", "addresses: { case_sensitive_local_part: true }");

        using var manifest = await PrepareAsync(campaign, db);
        Assert.Equal(2, manifest.RootElement.GetProperty("deliverable").GetInt64());
        await using var store = await SqliteDeliveryStore.OpenAsync(db, Ct);
        var emails = await store.ReadPendingAsync("legacy", 10, Ct).Select(i => i.Email).ToListAsync(Ct);
        Assert.Equal(["Zoe@example.com", "zoe@example.com"], emails);

        var (exit, _, error) = await HeraldProcess.RunAsync("validate", WriteCampaign("bad", "bad", "a@example.com\n", "addresses: { case_sensitive: yes }"));
        Assert.Equal(1, exit);
        Assert.Contains("case_sensitive_local_part", error, StringComparison.Ordinal);
    }
}
