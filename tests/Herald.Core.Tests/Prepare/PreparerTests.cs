using System.Text;
using System.Text.Json;
using Herald.Campaigns;
using Herald.Prepare;
using Herald.Store;

namespace Herald.Core.Tests.Prepare;

public sealed class PreparerTests : IDisposable
{
    private readonly PrepareFixture _fx = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _fx.Dispose();

    private static string Context(PlanEntry e) => Encoding.UTF8.GetString(e.Context.Span);

    private static Task<PrepareManifest> Prepare(Campaign c, IDeliveryStore store, ISuppressionList? suppression = null, PrepareOptions? options = null) =>
        Preparer.PrepareAsync(c, store, suppression, options ?? new PrepareOptions(), Ct);

    private static DataSetOptions Products(string file = "recs.csv", int? limit = null, string? orderBy = null, bool required = false) => new()
    {
        Name = "products", File = file, Key = "customer_id", RecipientKey = "id", Many = true, Limit = limit, OrderBy = orderBy, Required = required,
    };

    [Fact]
    public async Task Prepare_plans_pending_and_skipped_rows_in_file_order_with_reasons()
    {
        _fx.Write("r.csv", "email,first_name\nann@Shop.Example.com,Ann\nnot-an-address,Bob\nann@SHOP.example.com,Ann2\nsupp@example.com,Sue\n  cat@example.com ,Cat\n");
        var store = new MemoryPlanStore();
        var suppression = new FixedSuppressionList("supp@example.com");

        var manifest = await Prepare(_fx.Campaign("r.csv"), store, suppression);

        var plan = store.Plan("spring");
        Assert.Equal(["ann@shop.example.com", "not-an-address", "ann@shop.example.com", "supp@example.com", "cat@example.com"], plan.Select(e => e.Email));
        Assert.Equal([null, "invalid", "duplicate", "suppressed", null], plan.Select(e => e.SkipReason));
        Assert.Equal("""{"first_name":"Ann"}""", Context(plan[0]));
        Assert.True(plan[1].Context.IsEmpty);
        Assert.Equal(plan.Count, plan.Select(e => e.RecipientId).Distinct().Count());
        Assert.All(plan, e => Assert.Equal(Herald.Rendering.MessageIds.Create("spring", e.RecipientId, "shop.example.com"), e.MessageId));
        Assert.Equal(5, manifest.RowsRead);
        Assert.Equal(2, manifest.Deliverable);
        Assert.Equal(new Dictionary<string, long> { ["duplicate"] = 1, ["invalid"] = 1, ["suppressed"] = 1 }, manifest.Skipped);
        Assert.Single(manifest.Passes);
        Assert.Equal(Preparer.ComputeFingerprint(_fx.Campaign("r.csv")), (await store.GetPlanAsync("spring", Ct))!.Fingerprint);
    }

    [Fact]
    public async Task Prepare_writes_recipient_fields_as_the_render_context_serializer_does()
    {
        _fx.Write("r.jsonl", """{"email":"a@example.com","first_name":"Chloé <3","n":3,"tags":{"b":1,"a":[true,null]}}""" + "\n");

        await Prepare(_fx.Campaign("r.jsonl"), new MemoryPlanStore().Also(out var store));

        var expected = Herald.Rendering.RenderContextSerializer.Serialize(
            ["first_name", "n", "tags"], ["Chloé <3", 3L, new Dictionary<string, object?> { ["b"] = 1L, ["a"] = new List<object?> { true, null } }]);
        Assert.Equal(Encoding.UTF8.GetString(expected), Context(store.Plan("spring")[0]));
    }

    [Fact]
    public async Task Prepare_joins_many_rows_in_file_order_up_to_limit_without_the_key_column()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\nb@example.com,2\nc@example.com,3\n");
        _fx.Write("recs.csv", "customer_id,sku\n2,x\n1,a\n1,b\n2,y\n1,c\n");

        var manifest = await Prepare(_fx.Campaign("r.csv", Products(limit: 2)), new MemoryPlanStore().Also(out var store));

        var plan = store.Plan("spring");
        Assert.Equal("""{"id":"1","products":[{"sku":"a"},{"sku":"b"}]}""", Context(plan[0]));
        Assert.Equal("""{"id":"2","products":[{"sku":"x"},{"sku":"y"}]}""", Context(plan[1]));
        Assert.Equal("""{"id":"3","products":[]}""", Context(plan[2]));
        Assert.Equal(3, manifest.Deliverable);
        var set = manifest.DataSets.Single();
        Assert.Equal(("products", 5L, 5L, 0), (set.Name, set.RowsRead, set.RowsMatched, set.SpilledRuns));
        Assert.EndsWith("recs.csv", set.File, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_orders_many_rows_by_order_by_then_file_order()
    {
        _fx.Write("r.jsonl", """{"email":"a@example.com","id":7}""" + "\n");
        _fx.Write("recs.jsonl", string.Join("\n",
            """{"customer_id":7,"sku":"late","rank":3}""",
            """{"customer_id":7,"sku":"first","rank":1}""",
            """{"customer_id":7,"sku":"none"}""",
            """{"customer_id":7,"sku":"tie-a","rank":2}""",
            """{"customer_id":7,"sku":"tie-b","rank":2}""") + "\n");

        await Prepare(_fx.Campaign("r.jsonl", Products("recs.jsonl", orderBy: "rank")), new MemoryPlanStore().Also(out var store));

        using var doc = JsonDocument.Parse(store.Plan("spring")[0].Context);
        var skus = doc.RootElement.GetProperty("products").EnumerateArray().Select(p => p.GetProperty("sku").GetString());
        Assert.Equal(["first", "tie-a", "tie-b", "late", "none"], skus);
    }

    [Fact]
    public async Task Prepare_orders_numbers_read_as_csv_text_by_value()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.csv", "customer_id,sku,rank\n1,ten,10\n1,nine,9\n1,minus,-1.5\n");

        await Prepare(_fx.Campaign("r.csv", Products(orderBy: "rank")), new MemoryPlanStore().Also(out var store));

        using var doc = JsonDocument.Parse(store.Plan("spring")[0].Context);
        Assert.Equal(["minus", "nine", "ten"], doc.RootElement.GetProperty("products").EnumerateArray().Select(p => p.GetProperty("sku").GetString()));
    }

    [Fact]
    public async Task Prepare_nests_one_to_one_fields_and_writes_null_when_optional_and_missing()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\nb@example.com,2\n");
        _fx.Write("loyalty.csv", "cid,tier,points\n1,gold,1200\n");
        var loyalty = new DataSetOptions { Name = "loyalty", File = "loyalty.csv", Key = "cid", RecipientKey = "id" };

        await Prepare(_fx.Campaign("r.csv", loyalty), new MemoryPlanStore().Also(out var store));

        Assert.Equal("""{"id":"1","loyalty":{"tier":"gold","points":"1200"}}""", Context(store.Plan("spring")[0]));
        Assert.Equal("""{"id":"2","loyalty":null}""", Context(store.Plan("spring")[1]));
    }

    [Fact]
    public async Task Prepare_skips_recipients_without_a_required_match_as_missing_name()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\nb@example.com,2\nc@example.com,\n");
        _fx.Write("recs.csv", "customer_id,sku\n1,a\n");

        var manifest = await Prepare(_fx.Campaign("r.csv", Products(required: true)), new MemoryPlanStore().Also(out var store));

        Assert.Equal([null, "missing:products", "missing:products"], store.Plan("spring").Select(e => e.SkipReason));
        Assert.Equal(1, manifest.Deliverable);
        Assert.Equal(2, manifest.Skipped["missing:products"]);
    }

    [Fact]
    public async Task Prepare_gives_recipients_sharing_a_key_the_same_joined_value()
    {
        _fx.Write("r.csv", "email,store\na@example.com,s1\nb@example.com,s2\nc@example.com,s1\nd@example.com,s1\n");
        _fx.Write("stores.csv", "store_id,city\ns2,Oslo\ns1,Rome\n");
        var stores = new DataSetOptions { Name = "shop", File = "stores.csv", Key = "store_id", RecipientKey = "store" };

        await Prepare(_fx.Campaign("r.csv", stores), new MemoryPlanStore().Also(out var store));

        var cities = store.Plan("spring").Select(e => JsonDocument.Parse(e.Context).RootElement.GetProperty("shop").GetProperty("city").GetString());
        Assert.Equal(["Rome", "Oslo", "Rome", "Rome"], cities);
    }

    [Fact]
    public async Task Prepare_matches_whole_number_keys_across_formats()
    {
        _fx.Write("r.csv", "email,id\na@example.com,42\n");
        _fx.Write("recs.jsonl", """{"customer_id":42,"sku":"n"}""" + "\n" + """{"customer_id":42.0,"sku":"d"}""" + "\n");

        await Prepare(_fx.Campaign("r.csv", Products("recs.jsonl")), new MemoryPlanStore().Also(out var store));

        Assert.Equal("""{"id":"42","products":[{"sku":"n"},{"sku":"d"}]}""", Context(store.Plan("spring")[0]));
    }

    [Fact]
    public async Task Prepare_rejects_a_duplicate_key_in_a_one_to_one_set_naming_both_rows()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("loyalty.csv", "cid,tier\n1,gold\n2,silver\n1,bronze\n");
        var loyalty = new DataSetOptions { Name = "loyalty", File = "loyalty.csv", Key = "cid", RecipientKey = "id" };

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", loyalty), new MemoryPlanStore()));

        var problem = Assert.Single(ex.Problems);
        Assert.EndsWith("loyalty.csv", problem.File, StringComparison.Ordinal);
        // Physical lines of the file (the header is line 1).
        Assert.Equal(4, problem.Line);
        Assert.Contains("duplicate key '1'", problem.Message, StringComparison.Ordinal);
        Assert.Contains("row 2", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_reports_a_missing_key_column_with_the_file()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.csv", "customer,sku\n1,a\n");

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products()), new MemoryPlanStore()));

        Assert.EndsWith("recs.csv", ex.Problems[0].File, StringComparison.Ordinal);
        Assert.Contains("no column 'customer_id'", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_reports_a_missing_recipient_key_column()
    {
        _fx.Write("r.csv", "email\na@example.com\n");
        _fx.Write("recs.csv", "customer_id,sku\n1,a\n");

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products()), new MemoryPlanStore()));

        Assert.EndsWith("r.csv", ex.Problems[0].File, StringComparison.Ordinal);
        Assert.Contains("no column 'id'", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_reports_a_key_of_the_wrong_type_with_file_and_row()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.jsonl", """{"customer_id":1,"sku":"a"}""" + "\n" + """{"customer_id":true,"sku":"b"}""" + "\n");

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products("recs.jsonl")), new MemoryPlanStore()));

        Assert.Equal(2, ex.Problems[0].Line);
        Assert.Contains("true/false", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_reports_order_by_values_of_mixed_types_naming_both_rows()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.jsonl", """{"customer_id":1,"rank":1}""" + "\n" + """{"customer_id":1,"rank":"top"}""" + "\n");

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products("recs.jsonl", orderBy: "rank")), new MemoryPlanStore()));

        Assert.Equal(2, ex.Problems[0].Line);
        Assert.Contains("row 1", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_reports_a_malformed_data_line_with_file_and_line()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.jsonl", """{"customer_id":1,"sku":"a"}""" + "\n" + """{"customer_id":1,"sku":""" + "\n");

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products("recs.jsonl")), new MemoryPlanStore()));

        Assert.EndsWith("recs.jsonl", ex.Problems[0].File, StringComparison.Ordinal);
        Assert.Equal(2, ex.Problems[0].Line);
    }

    [Fact]
    public async Task Prepare_reports_an_unreadable_parquet_file()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\n");
        _fx.Write("recs.parquet", "this is not parquet at all, just text pretending");

        var ex = await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products("recs.parquet")), new MemoryPlanStore()));

        Assert.EndsWith("recs.parquet", ex.Problems[0].File, StringComparison.Ordinal);
        Assert.Contains("not a readable Parquet file", ex.Problems[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prepare_is_deterministic_and_spilling_gives_the_same_plan_byte_for_byte()
    {
        var recipients = new StringBuilder("email,id,first_name\n");
        var recs = new StringBuilder("customer_id,sku,score\n");
        var random = new Random(7);
        for (var i = 0; i < 600; i++)
        {
            recipients.Append($"user{i}@example.com,{i},N{i}\n");
        }

        for (var i = 0; i < 6000; i++)
        {
            recs.Append($"{random.Next(700)},sku-{i},{random.Next(50)}\n");
        }

        _fx.Write("r.csv", recipients.ToString());
        _fx.Write("recs.csv", recs.ToString());
        var campaign = _fx.Campaign("r.csv", Products(limit: 5, orderBy: "score"));

        await Prepare(campaign, new MemoryPlanStore().Also(out var first));
        await Prepare(campaign, new MemoryPlanStore().Also(out var second));
        var spilled = await Prepare(campaign, new MemoryPlanStore().Also(out var third), options: new PrepareOptions { MemoryBudget = 64 * 1024, BatchSize = 100 });

        Assert.True(spilled.DataSets[0].SpilledRuns >= 3, $"expected spills, got {spilled.DataSets[0].SpilledRuns}");
        var a = Serialize(first.Plan("spring"));
        Assert.Equal(a, Serialize(second.Plan("spring")));
        Assert.Equal(a, Serialize(third.Plan("spring")));
        Assert.Equal(600, first.Plan("spring").Count);
    }

    [Fact]
    public async Task Prepare_failing_midway_leaves_the_previous_plan_untouched()
    {
        _fx.Write("r.csv", "email,id\na@example.com,1\nb@example.com,2\nc@example.com,3\n");
        var store = new MemoryPlanStore();
        await Prepare(_fx.Campaign("r.csv"), store);
        var before = Serialize(store.Plan("spring"));

        _fx.Write("r.csv", "email,id\nx@example.com,1\ny@example.com,2\nz@example.com,3\n");
        store.FailOnAdd = 2;
        await Assert.ThrowsAsync<StoreException>(() => Prepare(_fx.Campaign("r.csv"), store, options: new PrepareOptions { BatchSize = 1 }));

        _fx.Write("recs.csv", "customer_id,sku\n1,a\n2,b\n3,\"broken\n");
        store.FailOnAdd = null;
        await Assert.ThrowsAsync<CampaignException>(() => Prepare(_fx.Campaign("r.csv", Products()), store));

        Assert.Equal(1, store.Commits);
        Assert.Equal(before, Serialize(store.Plan("spring")));
    }

    [Fact]
    public async Task Prepare_refuses_to_replan_a_campaign_that_started_sending()
    {
        _fx.Write("r.csv", "email\na@example.com\n");
        var store = new MemoryPlanStore();
        await Prepare(_fx.Campaign("r.csv"), store);
        store.MarkStarted("spring");

        var ex = await Assert.ThrowsAsync<StoreException>(() => Prepare(_fx.Campaign("r.csv"), store));

        Assert.Contains("already started sending", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, store.Commits);
    }

    [Fact]
    public async Task Prepare_asks_the_suppression_list_once_per_batch()
    {
        _fx.Write("r.csv", "email\n" + string.Concat(Enumerable.Range(0, 10).Select(i => $"u{i}@example.com\n")));
        var suppression = new FixedSuppressionList("u3@example.com");

        var manifest = await Prepare(_fx.Campaign("r.csv"), new MemoryPlanStore(), suppression, new PrepareOptions { BatchSize = 4 });

        Assert.Equal(3, suppression.Calls);
        Assert.Equal(1, manifest.Skipped["suppressed"]);
    }

    private static string Serialize(IReadOnlyList<PlanEntry> plan) =>
        string.Join("\n", plan.Select(e => $"{e.RecipientId}|{e.Email}|{e.SkipReason}|{e.MessageId}|{Convert.ToBase64String(e.Context.Span)}"));
}

internal static class TestExtensions
{
    public static T Also<T>(this T value, out T copy)
    {
        copy = value;
        return value;
    }
}
