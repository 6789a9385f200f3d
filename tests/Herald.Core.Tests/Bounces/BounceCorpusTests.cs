using Herald.Bounces;
using Herald.Store;

namespace Herald.Core.Tests.Bounces;

/// <summary>Every corpus file through the processor: what it is, whom it is about, how it was learnt.</summary>
public sealed class BounceCorpusTests
{
    private const int Zoe = 3;

    [Theory]
    // Delivery status notifications (RFC 3464).
    [InlineData("postfix-user-unknown.eml", true, BounceType.Hard, "5.1.1", BounceSource.Dsn)]
    [InlineData("postfix-mailbox-full-gave-up.eml", true, BounceType.Soft, "4.2.2", BounceSource.Dsn)]
    [InlineData("exim-dsn-unrouteable.eml", true, BounceType.Hard, "5.0.0", BounceSource.Dsn)]
    [InlineData("microsoft365-recipient-not-found.eml", true, BounceType.Hard, "5.1.10", BounceSource.Dsn)]
    [InlineData("outlookcom-mailbox-unavailable.eml", true, BounceType.Hard, "5.5.0", BounceSource.Dsn)]
    [InlineData("gmail-account-does-not-exist.eml", true, BounceType.Hard, "5.1.1", BounceSource.Dsn)]
    [InlineData("gmail-over-quota-gave-up.eml", true, BounceType.Soft, "4.2.2", BounceSource.Dsn)]
    [InlineData("global-dsn-forwarded.eml", true, BounceType.Hard, "5.1.1", BounceSource.Dsn)]
    // The same DSNs imported without their envelope: found by the return path quoted in them, or the returned headers.
    [InlineData("postfix-user-unknown.eml", false, BounceType.Hard, "5.1.1", BounceSource.Dsn)]
    [InlineData("microsoft365-recipient-not-found.eml", false, BounceType.Hard, "5.1.10", BounceSource.Dsn)]
    [InlineData("outlookcom-mailbox-unavailable.eml", false, BounceType.Hard, "5.5.0", BounceSource.Dsn)]
    [InlineData("gmail-over-quota-gave-up.eml", false, BounceType.Soft, "4.2.2", BounceSource.Dsn)]
    // Bounces without a machine-readable report.
    [InlineData("exim-text-only.eml", false, BounceType.Hard, "5.1.1", BounceSource.Headers)]
    [InlineData("message-id-in-body.eml", false, BounceType.Hard, null, BounceSource.Headers)]
    [InlineData("yahoo-text-bounce.eml", true, BounceType.Hard, "554", BounceSource.Verp)]
    [InlineData("yahoo-text-bounce.eml", false, BounceType.Hard, "554", BounceSource.Verp)]
    [InlineData("qmail-text-bounce.eml", true, BounceType.Hard, "5.1.1", BounceSource.Verp)]
    [InlineData("qmail-text-bounce.eml", false, BounceType.Hard, "5.1.1", BounceSource.Verp)]
    // Complaints (ARF, RFC 5965), with and without the original message.
    [InlineData("yahoo-arf-complaint.eml", false, BounceType.Complaint, null, BounceSource.Arf)]
    [InlineData("microsoft-jmrp-complaint.eml", false, BounceType.Complaint, null, BounceSource.Arf)]
    [InlineData("arf-headers-only.eml", false, BounceType.Complaint, null, BounceSource.Arf)]
    [InlineData("arf-without-original.eml", false, BounceType.Complaint, null, BounceSource.Arf)]
    [InlineData("arf-address-only.eml", false, BounceType.Complaint, null, BounceSource.Arf)]
    public async Task A_report_is_recorded_against_its_recipient(string file, bool envelope, BounceType type, string? code, BounceSource source)
    {
        await using var fixture = await BounceFixture.CreateAsync();

        var outcome = await fixture.Processor.ProcessAsync(fixture.Corpus(file, Zoe), Envelope(fixture, envelope), TestContext.Current.CancellationToken);

        Assert.Equal(BounceDisposition.Recorded, outcome.Disposition);
        var e = Assert.Single(outcome.Events);
        Assert.Equal((BounceFixture.Campaign, BounceFixture.RecipientId(Zoe), BounceFixture.Email(Zoe)), (e.CampaignId, e.RecipientId, e.Email));
        Assert.Equal((type, code, source), (e.Type, e.Code, e.Source));
        Assert.Equal([e], await fixture.EventsAsync());
    }

    [Theory]
    [InlineData("postfix-delay-warning.eml", "delayed")]
    [InlineData("autoreply-vacation.eml", "auto-reply")]
    [InlineData("autoreply-outlook.eml", "auto-reply")]
    [InlineData("autoreply-x-autoreply.eml", "auto-reply")]
    [InlineData("arf-not-spam.eml", "not-spam")]
    public async Task Auto_replies_delay_warnings_and_not_spam_reports_are_ignored(string file, string reason)
    {
        await using var fixture = await BounceFixture.CreateAsync();

        var outcome = await fixture.Processor.ProcessAsync(fixture.Corpus(file, Zoe), Envelope(fixture, true), TestContext.Current.CancellationToken);

        Assert.Equal(BounceDisposition.Ignored, outcome.Disposition);
        Assert.Contains(reason, outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(await fixture.EventsAsync());
        Assert.Empty(await fixture.SuppressionsAsync());
    }

    [Theory]
    [InlineData("human-reply.eml", true, "neither a bounce")]
    [InlineData("dsn-about-someone-else.eml", false, "not a recipient of this store")]
    [InlineData("bounce-unidentifiable.eml", false, "about no recipient of this store")]
    public async Task What_is_not_understood_or_not_ours_goes_to_quarantine(string file, bool envelope, string reason)
    {
        await using var fixture = await BounceFixture.CreateAsync();

        var outcome = await fixture.Processor.ProcessAsync(fixture.Corpus(file, Zoe), Envelope(fixture, envelope), TestContext.Current.CancellationToken);

        Assert.Equal(BounceDisposition.Quarantine, outcome.Disposition);
        Assert.Contains(reason, outcome.Reason, StringComparison.Ordinal);
        Assert.Empty(await fixture.EventsAsync());
    }

    [Fact]
    public async Task Garbage_is_quarantined_never_thrown()
    {
        await using var fixture = await BounceFixture.CreateAsync();
        var garbage = new byte[4096];
        new Random(7).NextBytes(garbage);

        var outcome = await fixture.Processor.ProcessAsync(garbage, BounceEnvelope.None, TestContext.Current.CancellationToken);

        Assert.Equal(BounceDisposition.Quarantine, outcome.Disposition);
    }

    private static BounceEnvelope Envelope(BounceFixture fixture, bool withReturnPath) =>
        withReturnPath ? new BounceEnvelope(null, [fixture.ReturnPath(Zoe)]) : BounceEnvelope.None;
}
