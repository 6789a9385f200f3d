using System.Text;
using System.Text.Json;
using Herald.Cli.Commands;
using Herald.Sqlite;
using Herald.Store;

namespace Herald.Cli.Tests.Commands;

public sealed class PrepareCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "herald-cli-prepare", Guid.NewGuid().ToString("N"));

    public PrepareCommandTests()
    {
        Directory.CreateDirectory(_dir);
        Write("body.html", "<p>Hi {{ first_name }}</p>");
        Write("recipients.csv", "email,first_name,id\na@example.com,Ann,1\nnot-an-address,Bob,2\na@EXAMPLE.com,Ann again,3\nc@example.com,Cy,4\n");
        Write("recs.csv", "customer_id,sku\n1,x\n1,y\n4,z\n");
        Write("campaign.yml", """
            id: spring
            from: "Shop <news@shop.example.com>"
            subject: "Hi {{ first_name }}"
            html: body.html
            recipients: recipients.csv
            tracking: { base_url: "https://t.example.com" }
            postal_address: "1 Market St"
            relays:
              - url: smtp://127.0.0.1:2525
            data:
              products:
                file: recs.csv
                key: customer_id
                recipient_key: id
                many: true
                limit: 8
                required: true
            """);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Campaign => Path.Combine(_dir, "campaign.yml");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Prepare_writes_the_plan_to_the_store_and_prints_the_manifest_as_json()
    {
        var db = Path.Combine(_dir, "plan.db");
        var output = new StringWriter();

        var code = await PrepareCommand.RunAsync(Campaign, db, json: true, "512MB", output, Ct);

        Assert.Equal(0, code);
        using var manifest = JsonDocument.Parse(output.ToString());
        Assert.Equal(4, manifest.RootElement.GetProperty("rows_read").GetInt64());
        Assert.Equal(2, manifest.RootElement.GetProperty("deliverable").GetInt64());
        Assert.Equal(1, manifest.RootElement.GetProperty("skipped").GetProperty("invalid").GetInt64());
        Assert.Equal(1, manifest.RootElement.GetProperty("skipped").GetProperty("duplicate").GetInt64());

        await using var store = await SqliteDeliveryStore.OpenAsync(db, Ct);
        var plan = await store.GetPlanAsync("spring", Ct);
        Assert.Equal(manifest.RootElement.GetProperty("fingerprint").GetString(), plan!.Fingerprint);
        var counts = await store.GetCountsAsync("spring", Ct);
        Assert.Equal((2L, 2L), (counts.Pending, counts.Skipped));
    }

    [Fact]
    public async Task Prepare_skips_addresses_on_the_stores_suppression_list()
    {
        var db = Path.Combine(_dir, "plan.db");
        await using (var tracking = new SqliteTrackingStore(db))
        {
            await tracking.MigrateAsync(Ct);
            await tracking.AddSuppressionsAsync([new SuppressionEntry("c@example.com", SuppressionReason.Manual, null, DateTimeOffset.UnixEpoch)], Ct);
        }

        var output = new StringWriter();
        await PrepareCommand.RunAsync(Campaign, db, json: true, "512MB", output, Ct);

        using var manifest = JsonDocument.Parse(output.ToString());
        Assert.Equal(1, manifest.RootElement.GetProperty("skipped").GetProperty("suppressed").GetInt64());
        Assert.Equal(1, manifest.RootElement.GetProperty("deliverable").GetInt64());
    }

    [Fact]
    public async Task Prepare_prints_a_readable_summary_without_json()
    {
        var output = new StringWriter();

        await PrepareCommand.RunAsync(Campaign, Path.Combine(_dir, "plan.db"), json: false, "64MB", output, Ct);

        Assert.Contains("deliverable  2", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("invalid", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_without_a_store_anywhere_above_uses_the_user_data_folder_and_says_so()
    {
        var run = await HeraldProcess.RunAsync("prepare", Campaign);

        Assert.True(run.Exit == 0, run.Out + run.Error);
        Assert.StartsWith($"store: {HeraldProcess.DefaultStore} (the default: no herald.db in {_dir} or above it)", run.Out, StringComparison.Ordinal);
        Assert.True(File.Exists(HeraldProcess.DefaultStore));
        Assert.False(File.Exists(Path.Combine(_dir, "herald.db")));
    }

    [Fact]
    public async Task Prepare_json_names_the_store()
    {
        var db = Path.Combine(_dir, "plan.db");
        var run = await HeraldProcess.RunAsync("prepare", Campaign, "--json", "--db", db);

        Assert.True(run.Exit == 0, run.Out + run.Error);
        using var json = System.Text.Json.JsonDocument.Parse(run.Out);
        Assert.Equal(db, json.RootElement.GetProperty("store").GetString());
    }

    [Fact]
    public async Task Prepare_rejects_a_bad_memory_budget_with_a_clear_message()
    {
        var ex = await Assert.ThrowsAsync<HeraldException>(() => PrepareCommand.RunAsync(Campaign, null, json: false, "lots", new StringWriter(), Ct));

        Assert.Contains("--memory-budget", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_reports_bad_input_as_a_campaign_problem_and_keeps_the_previous_plan()
    {
        var db = Path.Combine(_dir, "plan.db");
        await PrepareCommand.RunAsync(Campaign, db, json: true, "512MB", new StringWriter(), Ct);
        Write("recs.csv", "customer_id,sku\n1,x\n1,\"unterminated\n");

        // CliRunner prints a CampaignException as file:row lines (exit 1), never a stack trace.
        var ex = await Assert.ThrowsAsync<CampaignException>(() => PrepareCommand.RunAsync(Campaign, db, false, "512MB", new StringWriter(), Ct));

        Assert.Contains("recs.csv", ex.Problems[0].ToString(), StringComparison.Ordinal);
        await using var store = await SqliteDeliveryStore.OpenAsync(db, Ct);
        var counts = await store.GetCountsAsync("spring", Ct);
        Assert.Equal(4, counts.Total);
    }

    [Fact]
    public async Task Prepare_failing_after_rows_reached_the_store_leaves_the_previous_plan()
    {
        var db = Path.Combine(_dir, "plan.db");
        await PrepareCommand.RunAsync(Campaign, db, json: true, "512MB", new StringWriter(), Ct);
        await using (var before = await SqliteDeliveryStore.OpenAsync(db, Ct))
        {
            Assert.Equal(4, (await before.GetCountsAsync("spring", Ct)).Total);
        }

        // No data sets: one fused pass straight into the plan writer; 5,000 good rows (more than one batch reach the
        // writer) and then a ragged row.
        var rows = new StringBuilder("email,first_name,id\n");
        for (var i = 0; i < 5000; i++)
        {
            rows.Append(System.Globalization.CultureInfo.InvariantCulture, $"u{i}@example.com,U,{i}\n");
        }

        rows.Append("late@example.com,too,many,fields\n");
        Write("recipients.csv", rows.ToString());
        File.WriteAllText(Campaign, File.ReadAllText(Campaign)[..File.ReadAllText(Campaign).IndexOf("data:", StringComparison.Ordinal)]);

        var ex = await Assert.ThrowsAsync<CampaignException>(() => PrepareCommand.RunAsync(Campaign, db, false, "512MB", new StringWriter(), Ct));

        Assert.Equal(5001, ex.Problems[0].Line);
        await using var store = await SqliteDeliveryStore.OpenAsync(db, Ct);
        Assert.Equal(4, (await store.GetCountsAsync("spring", Ct)).Total);
    }

    private void Write(string name, string content) => File.WriteAllText(Path.Combine(_dir, name), content, new UTF8Encoding(false));
}
