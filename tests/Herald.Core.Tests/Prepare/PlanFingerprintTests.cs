using Herald.Prepare;
using Herald.Store;

namespace Herald.Core.Tests.Prepare;

public sealed class PlanFingerprintTests : IDisposable
{
    private readonly PrepareFixture _fx = new();

    public void Dispose() => _fx.Dispose();

    [Fact]
    public void Fingerprint_depends_on_input_content_not_on_paths_or_relay_settings()
    {
        _fx.Write("r.csv", "email\na@example.com\n");
        var first = PlanFingerprint.Compute(_fx.Campaign("r.csv"));

        _fx.Write("copy.csv", "email\na@example.com\n");
        var samecontent = PlanFingerprint.Compute(_fx.Campaign("copy.csv"));
        var relays = _fx.Campaign("r.csv");
        var otherRelays = new Herald.Campaigns.Campaign
        {
            Id = relays.Id, FilePath = relays.FilePath, From = relays.From, Subject = relays.Subject, HtmlPath = relays.HtmlPath,
            RecipientsPath = relays.RecipientsPath, Tracking = relays.Tracking, PostalAddress = relays.PostalAddress,
            Relays = [new Herald.Campaigns.RelayOptions { Url = new Uri("smtp://127.0.0.1:2626"), Connections = 50 }],
        };

        Assert.Equal(first, samecontent);
        Assert.Equal(first, PlanFingerprint.Compute(otherRelays));
        Assert.StartsWith("sha256:", first, StringComparison.Ordinal);

        _fx.Write("r.csv", "email\nb@example.com\n");
        Assert.NotEqual(first, PlanFingerprint.Compute(_fx.Campaign("r.csv")));
    }

    [Fact]
    public void Fingerprint_changes_with_templates_and_data_sets()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.csv", "customer_id,sku\n1,a\n");
        var set = new Herald.Campaigns.DataSetOptions { Name = "products", File = "recs.csv", Key = "customer_id", RecipientKey = "id", Many = true };
        var before = PlanFingerprint.Compute(_fx.Campaign("r.csv", set));

        _fx.Write("recs.csv", "customer_id,sku\n1,b\n");
        var afterData = PlanFingerprint.Compute(_fx.Campaign("r.csv", set));
        _fx.Write("body.html", "<p>changed</p>");
        var afterTemplate = PlanFingerprint.Compute(_fx.Campaign("r.csv", set));

        Assert.Equal(3, new[] { before, afterData, afterTemplate }.Distinct().Count());
    }

    [Fact]
    public async Task Freshness_is_missing_then_fresh_then_stale_with_a_message_naming_prepare()
    {
        _fx.Write("r.csv", "email\na@example.com\n");
        var store = new MemoryPlanStore();
        var ct = TestContext.Current.CancellationToken;

        Assert.Equal(PlanStatus.Missing, (await PlanFreshness.CheckAsync(_fx.Campaign("r.csv"), store, ct)).Status);
        await Preparer.PrepareAsync(_fx.Campaign("r.csv"), store, null, new PrepareOptions(), ct);
        var fresh = await PlanFreshness.CheckAsync(_fx.Campaign("r.csv"), store, ct);
        fresh.ThrowIfStale("campaign.yml");
        Assert.Equal(PlanStatus.Fresh, fresh.Status);

        _fx.Write("r.csv", "email\na@example.com\nb@example.com\n");
        var stale = await PlanFreshness.CheckAsync(_fx.Campaign("r.csv"), store, ct);

        Assert.Equal(PlanStatus.Stale, stale.Status);
        var ex = Assert.Throws<HeraldException>(() => stale.ThrowIfStale("campaign.yml"));
        Assert.Contains("herald prepare campaign.yml", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stale_plan_of_a_started_campaign_says_to_restore_the_inputs()
    {
        _fx.Write("r.csv", "email\na@example.com\n");
        var store = new MemoryPlanStore();
        var ct = TestContext.Current.CancellationToken;
        await Preparer.PrepareAsync(_fx.Campaign("r.csv"), store, null, new PrepareOptions(), ct);
        store.MarkStarted("spring");
        _fx.Write("r.csv", "email\nz@example.com\n");

        var stale = await PlanFreshness.CheckAsync(_fx.Campaign("r.csv"), store, ct);

        Assert.IsType<PlanInfo>(stale.Plan);
        var ex = Assert.Throws<HeraldException>(() => stale.ThrowIfStale("campaign.yml"));
        Assert.Contains("started sending", ex.Message, StringComparison.Ordinal);
    }
}
