using Herald.Bounces;
using Herald.Store;

namespace Herald.Core.Tests.Bounces;

/// <summary>What each kind of event does to the suppression list, and where the policy comes from.</summary>
public sealed class BouncePolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_hard_bounce_suppresses_the_address_at_once_as_bounced()
    {
        await using var fixture = await BounceFixture.CreateAsync();

        var outcome = await fixture.Processor.ProcessAsync(fixture.Corpus("postfix-user-unknown.eml", 1), BounceEnvelope.None, Ct);

        Assert.Equal(1, outcome.Suppressed);
        var entry = Assert.Single(await fixture.SuppressionsAsync());
        Assert.Equal((BounceFixture.Email(1), SuppressionReason.Bounced, BounceFixture.Campaign), (entry.Email, entry.Reason, entry.CampaignId));
    }

    [Fact]
    public async Task Soft_bounces_suppress_on_the_third_within_seven_days_over_every_campaign()
    {
        await using var fixture = await BounceFixture.CreateAsync();
        var email = BounceFixture.Email(2);

        await fixture.Processor.RecordAsync([Soft(email, "spring-2026", T0)], Ct);
        await fixture.Processor.RecordAsync([Soft(email, "autumn-2026", T0.AddDays(3))], Ct);
        Assert.Empty(await fixture.SuppressionsAsync());

        var third = await fixture.Processor.RecordAsync([Soft(email, "winter-2026", T0.AddDays(6))], Ct);

        Assert.Equal(1, third.Suppressed);
        Assert.Equal(SuppressionReason.Bounced, Assert.Single(await fixture.SuppressionsAsync()).Reason);
    }

    [Fact]
    public async Task Soft_bounces_spread_over_more_than_the_window_do_not_suppress()
    {
        await using var fixture = await BounceFixture.CreateAsync();
        var email = BounceFixture.Email(2);

        await fixture.Processor.RecordAsync([Soft(email, "a", T0)], Ct);
        await fixture.Processor.RecordAsync([Soft(email, "b", T0.AddDays(5))], Ct);
        await fixture.Processor.RecordAsync([Soft(email, "c", T0.AddDays(8))], Ct);

        Assert.Empty(await fixture.SuppressionsAsync());
    }

    [Fact]
    public async Task A_complaint_suppresses_as_complained_and_counts_as_an_unsubscribe()
    {
        await using var fixture = await BounceFixture.CreateAsync();

        var outcome = await fixture.Processor.ProcessAsync(fixture.Corpus("yahoo-arf-complaint.eml", 4), BounceEnvelope.None, Ct);

        Assert.Equal(1, outcome.Suppressed);
        Assert.Equal(SuppressionReason.Complained, Assert.Single(await fixture.SuppressionsAsync()).Reason);
        var counts = await fixture.Tracking.GetEventCountsAsync(BounceFixture.Campaign, Ct);
        Assert.Equal(1, counts.Unsubscribes);
        var unsubscribe = Assert.Single(await ReadEventsAsync(fixture));
        Assert.Equal((TrackingEventKind.Unsubscribe, BounceFixture.RecipientId(4), BounceProcessor.ComplaintMethod), (unsubscribe.Kind, unsubscribe.RecipientId, unsubscribe.Method));
    }

    [Fact]
    public async Task The_same_report_processed_twice_is_one_event_one_unsubscribe_and_one_suppression()
    {
        await using var fixture = await BounceFixture.CreateAsync();
        var complaint = fixture.Corpus("arf-without-original.eml", 5);
        var bounce = fixture.Corpus("gmail-account-does-not-exist.eml", 6);

        await fixture.Processor.ProcessAsync(complaint, BounceEnvelope.None, Ct);
        await fixture.Processor.ProcessAsync(bounce, BounceEnvelope.None, Ct);
        var again = await fixture.Processor.ProcessAsync(complaint, BounceEnvelope.None, Ct);
        await fixture.Processor.ProcessAsync(bounce, new BounceEnvelope(null, [fixture.ReturnPath(6)]), Ct);

        Assert.Equal(0, again.Suppressed);
        Assert.Equal(2, (await fixture.EventsAsync()).Count);
        Assert.Equal(2, (await fixture.SuppressionsAsync()).Count);
        Assert.Equal(1, (await fixture.Tracking.GetEventCountsAsync(BounceFixture.Campaign, Ct)).Unsubscribes);
    }

    [Fact]
    public async Task The_campaign_overrides_the_store_which_overrides_the_default()
    {
        await using var fixture = await BounceFixture.CreateAsync();
        await fixture.Bounces.SetStorePolicyAsync(new BouncePolicySettings(SoftLimit: 1, SuppressComplaints: false), Ct);
        await fixture.Bounces.SetCampaignSettingsAsync(new CampaignBounceSettings("strict", null, new BouncePolicySettings(SuppressHard: false)), Ct);

        Assert.Equal(new BouncePolicy(true, 1, TimeSpan.FromDays(7), false), await fixture.Processor.PolicyForAsync("other", Ct));
        Assert.Equal(new BouncePolicy(false, 1, TimeSpan.FromDays(7), false), await fixture.Processor.PolicyForAsync("strict", Ct));

        await fixture.Processor.RecordAsync([Soft("soft@example.org", "other", T0)], Ct);
        await fixture.Processor.RecordAsync([Event("hard@example.org", "strict", BounceType.Hard, T0)], Ct);
        await fixture.Processor.RecordAsync([Event("complaint@example.org", "other", BounceType.Complaint, T0)], Ct);

        Assert.Equal(["soft@example.org"], (await fixture.SuppressionsAsync()).Select(s => s.Email));
        Assert.Equal(3, (await fixture.EventsAsync("other")).Count + (await fixture.EventsAsync("strict")).Count);
    }

    [Fact]
    public async Task Synchronous_failures_in_the_ledger_become_sync_bounces_once()
    {
        await using var fixture = await BounceFixture.CreateAsync();
        await fixture.SendAsync("summer-2026", 4, i => i switch
        {
            0 => (550, "5.1.1 <zoe0@example.org>: Recipient address rejected: User unknown in local recipient table"),
            1 => (452, "gave up after 5 attempts: 4.2.2 Mailbox full"),
            2 => (554, "5.7.1 Service unavailable; client host blocked using zen.spamhaus.org"),
            _ => null,
        });

        var first = await fixture.Processor.ApplySyncFailuresAsync("summer-2026", Ct);
        var second = await fixture.Processor.ApplySyncFailuresAsync("summer-2026", Ct);

        Assert.Equal(new SyncBounceResult(1, 2, 1), first);
        Assert.Equal(new SyncBounceResult(1, 2, 0), second);
        var events = await fixture.EventsAsync("summer-2026");
        Assert.Equal([("r0", BounceType.Hard, "5.1.1"), ("r1", BounceType.Soft, "4.2.2"), ("r2", BounceType.Soft, "5.7.1")],
            events.Select(e => (e.RecipientId, e.Type, e.Code)));
        Assert.All(events, e => Assert.Equal(BounceSource.Sync, e.Source));
        Assert.Equal(["zoe0@example.org"], (await fixture.SuppressionsAsync()).Select(s => s.Email));
    }

    private static BounceEvent Soft(string email, string campaign, DateTimeOffset at) => Event(email, campaign, BounceType.Soft, at);

    private static BounceEvent Event(string email, string campaign, BounceType type, DateTimeOffset at) =>
        new(Guid.NewGuid(), at, campaign, "r-" + email, email, type, type == BounceType.Complaint ? null : "4.2.2", "test", BounceSource.Dsn);

    private static async Task<List<TrackingEvent>> ReadEventsAsync(BounceFixture fixture)
    {
        var list = new List<TrackingEvent>();
        await foreach (var e in fixture.Tracking.ReadEventsAsync(BounceFixture.Campaign, Ct))
        {
            list.Add(e);
        }

        return list;
    }
}
