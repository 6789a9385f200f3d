using Herald.Campaigns;

namespace Herald.Cli.Tests.Commands;

/// <summary>Every command finds its store by one rule: --db, HERALD_DB, a herald.db above, the user's data folder.</summary>
public sealed class StoreRuleTests : IDisposable
{
    private readonly CommandTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Commands_without_db_use_the_first_herald_db_found_walking_up_from_the_campaign()
    {
        var root = _files.Path("shop");
        var campaign = SampleCampaign.Write(Path.Combine(root, "spring", "2026"), 3);
        var db = Path.Combine(root, "herald.db");
        Assert.Equal(0, (await HeraldProcess.RunAsync("prepare", campaign, "--db", db)).Exit);

        var status = await HeraldProcess.RunAsync("status", campaign);

        Assert.True(status.Exit == 0, status.Out + status.Error);
        Assert.StartsWith($"store: {db} (found walking up from {Path.GetDirectoryName(campaign)})", status.Out, StringComparison.Ordinal);
        Assert.Contains("3", status.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(HeraldProcess.DefaultStore), "a store was found: the user's data folder must stay untouched");
    }

    [Fact]
    public async Task Db_option_wins_over_HERALD_DB_which_wins_over_a_store_found_above()
    {
        var campaign = SampleCampaign.Write(_files.Path("c"), 2);
        var above = Path.Combine(_files.Root, "herald.db");
        var fromEnv = _files.Path("env.db");
        var fromOption = _files.Path("option.db");
        Assert.Equal(0, (await HeraldProcess.RunAsync("prepare", campaign, "--db", above)).Exit);
        var env = new Dictionary<string, string> { ["HERALD_DB"] = fromEnv };

        var viaEnv = await HeraldProcess.RunInAsync(null, env, HeraldProcess.Bound, "prepare", campaign);
        var viaOption = await HeraldProcess.RunInAsync(null, env, HeraldProcess.Bound, "prepare", campaign, "--db", fromOption);

        Assert.StartsWith($"store: {fromEnv} (from HERALD_DB)", viaEnv.Out, StringComparison.Ordinal);
        Assert.StartsWith($"store: {fromOption} (from --db)", viaOption.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(fromEnv) && File.Exists(fromOption));
    }

    [Theory]
    [InlineData("status")]
    [InlineData("report")]
    [InlineData("suppress list")]
    [InlineData("serve")]
    public async Task A_command_that_only_reads_never_creates_a_store_and_says_where_it_looked(string command)
    {
        var campaign = SampleCampaign.Write(_files.Path("c"), 2);
        string[] args = command switch
        {
            "suppress list" => ["suppress", "list"],
            "serve" => ["serve", "--urls", "http://127.0.0.1:0"],
            _ => [command, campaign],
        };

        var run = await HeraldProcess.RunInAsync(_files.Path("c"), null, HeraldProcess.Bound, args);

        Assert.Equal(1, run.Exit);
        Assert.Contains($"no store found: looked for herald.db in {_files.Path("c")} and every folder above it, then at {HeraldProcess.DefaultStore}", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(HeraldProcess.DefaultStore), $"{command} created a store");
        Assert.False(File.Exists(_files.Path("c/herald.db")), $"{command} created a store");
    }

    [Fact]
    public async Task Preview_of_an_unprepared_campaign_creates_no_store()
    {
        var campaign = SampleCampaign.Write(_files.Path("c"), 2);

        var run = await HeraldProcess.RunAsync("preview", campaign, "--out", _files.Path("out"), "--limit", "1");

        Assert.True(run.Exit == 0, run.Out + run.Error);
        Assert.StartsWith($"store: {HeraldProcess.DefaultStore} (the default", run.Out, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(_files.Path("out"), "*.eml"));
        Assert.False(File.Exists(HeraldProcess.DefaultStore));
    }

    [Fact]
    public async Task An_address_suppressed_from_one_folder_is_excluded_from_a_campaign_in_a_sibling_folder()
    {
        var first = SampleCampaign.Write(_files.Path("shop/spring"), 3);
        var second = SampleCampaign.Write(_files.Path("shop/summer"), 3);
        var victim = File.ReadAllLines(Path.Combine(Path.GetDirectoryName(second)!, "recipients.csv"))[1].Split(',')[0];
        Assert.Equal(0, (await HeraldProcess.RunAsync("prepare", first)).Exit);

        // Run from the first campaign's folder: suppress has no campaign, so the rule starts from the current folder.
        var suppress = await HeraldProcess.RunInAsync(Path.GetDirectoryName(first), null, HeraldProcess.Bound, "suppress", "add", victim);
        var plan = await HeraldProcess.RunAsync("prepare", second, "--json");

        Assert.True(suppress.Exit == 0, suppress.Out + suppress.Error);
        Assert.StartsWith($"store: {HeraldProcess.DefaultStore}", suppress.Out, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse(plan.Out);
        Assert.Equal(HeraldProcess.DefaultStore, json.RootElement.GetProperty("store").GetString());
        Assert.Equal(1, json.RootElement.GetProperty("skipped").GetProperty("suppressed").GetInt32());
    }

    [Fact]
    public async Task Init_says_which_store_the_new_campaign_will_use()
    {
        var run = await HeraldProcess.RunAsync("init", _files.Path("new"));

        Assert.True(run.Exit == 0, run.Out + run.Error);
        Assert.StartsWith($"store: {HeraldProcess.DefaultStore} (the default: no herald.db in {_files.Path("new")} or above it)", run.Out, StringComparison.Ordinal);
        Assert.Contains($"The campaign will use the store {HeraldProcess.DefaultStore}", run.Out, StringComparison.Ordinal);
        Assert.False(File.Exists(HeraldProcess.DefaultStore), "init only says where the store will be");
    }
}
