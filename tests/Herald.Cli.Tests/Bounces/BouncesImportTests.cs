using System.Text;
using System.Text.Json;

namespace Herald.Cli.Tests.Bounces;

/// <summary><c>herald bounces import</c> and <c>herald bounces policy</c> as real processes.</summary>
public sealed class BouncesImportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_folder_of_bounces_is_imported_counted_and_quarantined_and_importing_it_again_changes_nothing()
    {
        using var campaign = await SentCampaign.CreateAsync(8);
        var folder = Path.Combine(campaign.Root, "collected");
        Directory.CreateDirectory(Path.Combine(folder, "2026-03"));
        await WriteAsync(folder, "a.eml", campaign.Corpus("postfix-user-unknown.eml", 0));
        await WriteAsync(folder, "2026-03/b.eml", campaign.Corpus("outlookcom-mailbox-unavailable.eml", 1));
        await WriteAsync(folder, "2026-03/c", campaign.Corpus("gmail-over-quota-gave-up.eml", 2));
        await WriteAsync(folder, "d.eml", campaign.Corpus("microsoft-jmrp-complaint.eml", 3));
        await WriteAsync(folder, "e.eml", campaign.Corpus("autoreply-vacation.eml", 4));
        await WriteAsync(folder, "f.eml", campaign.Corpus("human-reply.eml", 5));

        var first = await HeraldProcess.RunAsync("bounces", "import", folder, "--db", campaign.Db, "--quarantine", campaign.Quarantine);

        Assert.True(first.Exit == 0, first.Out + first.Error);
        Assert.StartsWith("store: ", first.Out, StringComparison.Ordinal);
        Assert.Contains($"imported 6 message(s): 2 hard bounce(s), 1 soft, 1 complaint(s), 1 ignored (auto-replies, delay warnings), 3 address(es) newly suppressed; 1 not understood or not ours, kept in {campaign.Quarantine}", first.Out, StringComparison.Ordinal);
        Assert.Contains("f.eml: quarantined as", first.Out, StringComparison.Ordinal);
        var suppressed = await campaign.SuppressionsAsync();
        Assert.Contains($"{campaign.Email(0)},bounced,", suppressed, StringComparison.Ordinal);
        Assert.Contains($"{campaign.Email(1)},bounced,", suppressed, StringComparison.Ordinal);
        Assert.Contains($"{campaign.Email(3)},complained,", suppressed, StringComparison.Ordinal);
        Assert.DoesNotContain(campaign.Email(2), suppressed, StringComparison.Ordinal);

        var again = await HeraldProcess.RunAsync("bounces", "import", folder, "--db", campaign.Db, "--quarantine", campaign.Quarantine, "--json");

        Assert.Equal(0, again.Exit);
        using var json = JsonDocument.Parse(again.Out);
        Assert.Equal(campaign.Db, json.RootElement.GetProperty("store").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("suppressed").GetInt32());
        Assert.Equal(6, json.RootElement.GetProperty("messages").GetInt32());
        Assert.Equal(suppressed, await campaign.SuppressionsAsync());
    }

    [Fact]
    public async Task An_mbox_is_split_into_its_messages()
    {
        using var campaign = await SentCampaign.CreateAsync(4);
        var mbox = new StringBuilder();
        foreach (var (file, i) in new[] { ("exim-dsn-unrouteable.eml", 0), ("qmail-text-bounce.eml", 1), ("arf-without-original.eml", 2) })
        {
            mbox.Append("From MAILER-DAEMON Mon Mar  2 09:14:07 2026\n").Append(campaign.Corpus(file, i).ReplaceLineEndings("\n").Replace("\nFrom ", "\n>From ", StringComparison.Ordinal)).Append("\n\n");
        }

        var path = Path.Combine(campaign.Root, "bounces.mbox");
        await File.WriteAllTextAsync(path, mbox.ToString(), Ct);

        var result = await HeraldProcess.RunAsync("bounces", "import", path, "--db", campaign.Db, "--quarantine", campaign.Quarantine);

        Assert.True(result.Exit == 0, result.Out + result.Error);
        Assert.Contains("imported 3 message(s): 2 hard bounce(s), 0 soft, 1 complaint(s)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_path_is_a_clear_error()
    {
        var result = await HeraldProcess.RunAsync("bounces", "import", "/nonexistent/bounces.mbox", "--db", Path.Combine(Path.GetTempPath(), "never.db"));

        Assert.Equal(1, result.Exit);
        Assert.Equal("error: /nonexistent/bounces.mbox: no such file or folder", result.Error.Trim());
    }

    [Fact]
    public async Task The_store_policy_is_shown_set_and_applied_and_a_campaign_overrides_it()
    {
        using var campaign = await SentCampaign.CreateAsync(3);

        var shown = await HeraldProcess.RunAsync("bounces", "policy", "--db", campaign.Db);
        Assert.Contains("hard bounces: suppress (default); soft bounces: suppress after 3 within 7d (default); complaints: suppress (default)", shown.Out, StringComparison.Ordinal);
        var set = await HeraldProcess.RunAsync("bounces", "policy", "--soft-bounces", "1", "--hard-bounces", "record", "--db", campaign.Db, "--json");
        Assert.Equal(0, set.Exit);
        using (var json = JsonDocument.Parse(set.Out))
        {
            var effective = json.RootElement.GetProperty("effective");
            Assert.Equal(("record", 1, "7d"), (effective.GetProperty("hard_bounces").GetString(), effective.GetProperty("soft_bounces").GetInt32(), effective.GetProperty("soft_window").GetString()));
        }

        var folder = Path.Combine(campaign.Root, "in");
        Directory.CreateDirectory(folder);
        await WriteAsync(folder, "soft.eml", campaign.Corpus("gmail-over-quota-gave-up.eml", 0));
        await WriteAsync(folder, "hard.eml", campaign.Corpus("postfix-user-unknown.eml", 1));
        await HeraldProcess.RunAsync("bounces", "import", folder, "--db", campaign.Db, "--quarantine", campaign.Quarantine);

        var suppressed = await campaign.SuppressionsAsync();
        Assert.Contains($"{campaign.Email(0)},bounced,", suppressed, StringComparison.Ordinal);
        Assert.DoesNotContain(campaign.Email(1), suppressed, StringComparison.Ordinal);

        var reset = await HeraldProcess.RunAsync("bounces", "policy", "--reset", "--db", campaign.Db);
        Assert.Contains("hard bounces: suppress (default)", reset.Out, StringComparison.Ordinal);
        var bad = await HeraldProcess.RunAsync("bounces", "policy", "--complaints", "drop", "--db", campaign.Db);
        Assert.Equal((1, "error: --complaints drop: expected 'suppress' or 'record'"), (bad.Exit, bad.Error.Trim()));
    }

    [Fact]
    public async Task A_campaigns_own_policy_wins_over_the_store_for_its_bounces()
    {
        using var campaign = await SentCampaign.CreateAsync(2, $"bounces: {{ domain: {SentCampaign.Domain}, hard_bounces: record }}");
        await HeraldProcess.RunAsync("bounces", "policy", "--hard-bounces", "suppress", "--db", campaign.Db);
        var folder = Path.Combine(campaign.Root, "in");
        Directory.CreateDirectory(folder);
        await WriteAsync(folder, "hard.eml", campaign.Corpus("postfix-user-unknown.eml", 0));

        var result = await HeraldProcess.RunAsync("bounces", "import", folder, "--db", campaign.Db, "--quarantine", campaign.Quarantine);

        Assert.Contains("1 hard bounce(s)", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain(campaign.Email(0), await campaign.SuppressionsAsync(), StringComparison.Ordinal);
    }

    private static Task WriteAsync(string folder, string name, string content) =>
        File.WriteAllTextAsync(Path.Combine(folder, name), content, Ct);
}
