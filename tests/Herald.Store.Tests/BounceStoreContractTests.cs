using System.Text;

namespace Herald.Store.Tests;

/// <summary>The behaviour every <see cref="IBounceStore"/> backend must have. Derive once per backend.</summary>
public abstract class BounceStoreContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    protected IBounceStore Store { get; private set; } = null!;

    /// <summary>A fresh, empty, migrated bounce store.</summary>
    protected abstract Task<IBounceStore> CreateStoreAsync();

    /// <summary>The delivery ledger of the same store (a new handle each call; the caller disposes it).</summary>
    protected abstract Task<IDeliveryStore> OpenLedgerAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => Store = await CreateStoreAsync();

    public virtual async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static BounceEvent Event(string recipient, BounceType type, int secondsAfter = 0, string campaign = "spring", string? email = null, string? code = "5.1.1", BounceSource source = BounceSource.Dsn) =>
        new(Guid.NewGuid(), T0.AddSeconds(secondsAfter), campaign, recipient, email ?? $"{recipient}@example.com", type, code, code is null ? null : $"smtp; 550 {code} test", source);

    /// <summary>Plans a campaign and sends it through the ledger contract: each row ends in the state given.</summary>
    protected async Task<IReadOnlyDictionary<string, long>> SendAsync(string campaign, params (string Recipient, DeliveryState State, int? Code, string? Text)[] rows)
    {
        await using var ledger = await OpenLedgerAsync();
        await using (var writer = await ledger.BeginPlanAsync(campaign, "f1", Ct))
        {
            await writer.AddAsync([.. rows.Select(r => new PlanEntry(r.Recipient, $"{r.Recipient}@example.com", Encoding.UTF8.GetBytes("{}"),
                r.State == DeliveryState.Skipped ? "invalid" : null, $"{campaign}.{r.Recipient}@shop.example.com"))], Ct);
            await writer.CommitAsync(Ct);
        }

        await ledger.RecoverAsync(campaign, "w1", Ct);
        var claimed = await ledger.ClaimAsync(campaign, "w1", rows.Length, TimeSpan.FromMinutes(1), Ct);
        var items = claimed.ToDictionary(c => c.RecipientId);
        var attempted = rows.Where(r => r.State is not (DeliveryState.Pending or DeliveryState.Skipped)).ToList();
        await ledger.CommitAsync("w1", [.. attempted.Select(r => items[r.Recipient].Claimed)], [], Ct);
        await ledger.CommitAsync("w1", [], [.. attempted.Select(r => new Outcome(items[r.Recipient].Id, items[r.Recipient].Token, r.State, r.Code, r.Text, "relay-1"))], Ct);
        await ledger.ReleaseAsync("w1", [.. rows.Where(r => r.State == DeliveryState.Pending).Select(r => items[r.Recipient].Claimed)], Ct);
        return items.ToDictionary(i => i.Key, i => i.Value.Id);
    }

    [Fact]
    public async Task Append_then_read_round_trips_every_field_and_orders_by_recipient_then_time()
    {
        var late = Event("r1", BounceType.Soft, 60, code: "4.2.2", source: BounceSource.Headers);
        var early = Event("r1", BounceType.Hard, 5);
        var other = Event("r0", BounceType.Complaint, 9, code: null, source: BounceSource.Arf);
        var elsewhere = Event("r9", BounceType.Hard, 1, campaign: "autumn", source: BounceSource.Sync);

        var added = await Store.AppendAsync([late, early, other, elsewhere], Ct);

        Assert.Equal(4, added);
        var read = new List<BounceEvent>();
        await foreach (var e in Store.ReadAsync("spring", Ct))
        {
            read.Add(e);
        }

        Assert.Equal([other, early, late], read);
    }

    [Fact]
    public async Task Append_is_idempotent_per_event_id()
    {
        var first = Event("r1", BounceType.Hard);
        await Store.AppendAsync([first], Ct);

        var again = await Store.AppendAsync([first, Event("r2", BounceType.Hard)], Ct);

        Assert.Equal(1, again);
        Assert.Equal(new BounceCounts(2, 0, 0), await Store.GetCountsAsync("spring", Ct));
    }

    [Fact]
    public async Task Counts_are_distinct_recipients_per_type_and_per_campaign()
    {
        await Store.AppendAsync(
        [
            Event("r1", BounceType.Hard), Event("r1", BounceType.Hard, 5), Event("r2", BounceType.Hard),
            Event("r3", BounceType.Soft), Event("r3", BounceType.Soft, 9), Event("r4", BounceType.Complaint, code: null),
            Event("x", BounceType.Hard, campaign: "autumn"),
        ], Ct);

        Assert.Equal(new BounceCounts(2, 1, 1), await Store.GetCountsAsync("spring", Ct));
        Assert.Equal(new BounceCounts(1, 0, 0), await Store.GetCountsAsync("autumn", Ct));
        Assert.Equal(new BounceCounts(0, 0, 0), await Store.GetCountsAsync("none", Ct));
    }

    [Fact]
    public async Task The_recipients_with_an_event_of_a_type_are_found_among_those_asked_about()
    {
        await Store.AppendAsync(
        [
            Event("r1", BounceType.Hard), Event("r1", BounceType.Hard, 5), Event("r2", BounceType.Soft),
            Event("r3", BounceType.Hard, campaign: "autumn"), Event("r4", BounceType.Hard),
        ], Ct);

        var found = await Store.FindRecipientsWithAsync("spring", BounceType.Hard, ["r1", "r2", "r3", "r9"], Ct);

        Assert.Equal(["r1"], found.Order(StringComparer.Ordinal));
        Assert.Empty(await Store.FindRecipientsWithAsync("spring", BounceType.Hard, [], Ct));
    }

    [Fact]
    public async Task An_address_is_counted_per_type_since_a_time_over_every_campaign()
    {
        await Store.AppendAsync(
        [
            Event("r1", BounceType.Soft, 0, email: "zoe@example.com"),
            Event("r1", BounceType.Soft, 100, campaign: "autumn", email: "zoe@example.com"),
            Event("r1", BounceType.Soft, 200, campaign: "winter", email: "zoe@example.com"),
            Event("r1", BounceType.Hard, 300, campaign: "winter", email: "zoe@example.com"),
            Event("r2", BounceType.Soft, 300, email: "max@example.com"),
        ], Ct);

        Assert.Equal(3, await Store.CountAsync("zoe@example.com", BounceType.Soft, T0, Ct));
        Assert.Equal(2, await Store.CountAsync("zoe@example.com", BounceType.Soft, T0.AddSeconds(100), Ct));
        Assert.Equal(1, await Store.CountAsync("zoe@example.com", BounceType.Hard, T0, Ct));
        Assert.Equal(0, await Store.CountAsync("nobody@example.com", BounceType.Soft, T0, Ct));
    }

    [Fact]
    public async Task Ledger_rows_are_found_by_row_message_id_recipient_id_and_address()
    {
        var ids = await SendAsync("spring", ("r1", DeliveryState.Sent, 250, "ok"), ("r2", DeliveryState.Failed, 550, "5.1.1 unknown"));
        await SendAsync("autumn", ("r1", DeliveryState.Sent, 250, "ok"));

        var byRow = await Store.FindByRowAsync(ids["r2"], Ct);
        Assert.Equal(new LedgerRecipient(ids["r2"], "spring", "r2", "r2@example.com", "spring.r2@shop.example.com"), byRow);
        Assert.Equal(ids["r1"], (await Store.FindByMessageIdAsync("<spring.r1@shop.example.com>", Ct))?.Row);
        Assert.Equal(ids["r1"], (await Store.FindByMessageIdAsync("spring.r1@shop.example.com", Ct))?.Row);
        Assert.Equal(ids["r1"], (await Store.FindByRecipientIdAsync("spring", "r1", Ct))?.Row);
        Assert.Equal("spring", (await Store.FindByEmailAsync("r1@example.com", "spring", Ct))?.CampaignId);
        Assert.Null(await Store.FindByRowAsync(ids.Values.Max() + 1000, Ct));
        Assert.Null(await Store.FindByMessageIdAsync("other@shop.example.com", Ct));
        Assert.Null(await Store.FindByRecipientIdAsync("spring", "r9", Ct));
        Assert.Null(await Store.FindByEmailAsync("r2@example.com", "autumn", Ct));
    }

    [Fact]
    public async Task An_address_without_a_campaign_is_found_in_the_campaign_that_attempted_it_last_never_in_an_unsent_one()
    {
        await SendAsync("spring", ("r1", DeliveryState.Sent, 250, "ok"));
        await SendAsync("autumn", ("r1", DeliveryState.InDoubt, null, null));
        await SendAsync("winter", ("r1", DeliveryState.Pending, null, null), ("r2", DeliveryState.Skipped, null, null));

        Assert.Equal("autumn", (await Store.FindByEmailAsync("r1@example.com", null, Ct))?.CampaignId);
        Assert.Null(await Store.FindByEmailAsync("r1@example.com", "winter", Ct));
        Assert.Null(await Store.FindByEmailAsync("r2@example.com", null, Ct));
    }

    [Fact]
    public async Task Sync_failures_are_the_failed_rows_with_their_reply()
    {
        var ids = await SendAsync("spring",
            ("r1", DeliveryState.Sent, 250, "ok"),
            ("r2", DeliveryState.Failed, 550, "5.1.1 <r2@example.com>: Recipient address rejected"),
            ("r3", DeliveryState.Failed, null, "gave up: connection refused"),
            ("r4", DeliveryState.Failed, 452, "gave up after 5 attempts: 4.2.2 mailbox full"));

        var failures = new List<SyncFailure>();
        await foreach (var f in Store.ReadSyncFailuresAsync("spring", Ct))
        {
            failures.Add(f);
        }

        Assert.Equal([(ids["r2"], 550, "5.1.1 <r2@example.com>: Recipient address rejected"), (ids["r4"], 452, "gave up after 5 attempts: 4.2.2 mailbox full")],
            failures.Select(f => (f.Recipient.Row, f.SmtpCode, f.SmtpText)));
        Assert.Equal("r2@example.com", failures[0].Recipient.Email);
    }

    [Fact]
    public async Task Campaign_settings_are_replaced_and_their_domains_listed_once()
    {
        await Store.SetCampaignSettingsAsync(new CampaignBounceSettings("spring", "Bounces.Shop.Example.com", new BouncePolicySettings(SoftLimit: 9)), Ct);
        await Store.SetCampaignSettingsAsync(new CampaignBounceSettings("spring", "bounces.shop.example.com", new BouncePolicySettings(false, 2, TimeSpan.FromDays(3), false)), Ct);
        await Store.SetCampaignSettingsAsync(new CampaignBounceSettings("autumn", "bounces.shop.example.com", BouncePolicySettings.None), Ct);
        await Store.SetCampaignSettingsAsync(new CampaignBounceSettings("plain", null, BouncePolicySettings.None), Ct);

        Assert.Equal(new CampaignBounceSettings("spring", "bounces.shop.example.com", new BouncePolicySettings(false, 2, TimeSpan.FromDays(3), false)),
            await Store.GetCampaignSettingsAsync("spring", Ct));
        Assert.Equal(new CampaignBounceSettings("plain", null, BouncePolicySettings.None), await Store.GetCampaignSettingsAsync("plain", Ct));
        Assert.Null(await Store.GetCampaignSettingsAsync("none", Ct));
        Assert.Equal(["bounces.shop.example.com"], await Store.ListDomainsAsync(Ct));
    }

    [Fact]
    public async Task The_store_policy_is_unset_until_set_and_then_replaced()
    {
        Assert.Equal(BouncePolicySettings.None, await Store.GetStorePolicyAsync(Ct));

        await Store.SetStorePolicyAsync(new BouncePolicySettings(SoftLimit: 5), Ct);
        await Store.SetStorePolicyAsync(new BouncePolicySettings(SuppressHard: false, SoftWindow: TimeSpan.FromDays(2)), Ct);

        Assert.Equal(new BouncePolicySettings(SuppressHard: false, SoftWindow: TimeSpan.FromDays(2)), await Store.GetStorePolicyAsync(Ct));
    }
}
