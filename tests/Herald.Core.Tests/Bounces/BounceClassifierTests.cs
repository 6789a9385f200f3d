using Herald.Bounces;
using Herald.Store;

namespace Herald.Core.Tests.Bounces;

/// <summary>Replies and DSN fields in the shapes the big providers and MTAs write them.</summary>
public class BounceClassifierTests
{
    [Theory]
    // Gmail
    [InlineData("5.1.1", "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address", BounceType.Hard, "5.1.1")]
    [InlineData("5.2.1", "smtp; 550-5.2.1 The email account that you tried to reach is disabled.", BounceType.Hard, "5.2.1")]
    [InlineData("4.2.1", "smtp; 450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered.", BounceType.Soft, "4.2.1")]
    [InlineData("5.2.2", "smtp; 552-5.2.2 The email account that you tried to reach is over quota.", BounceType.Soft, "5.2.2")]
    [InlineData("5.7.26", "smtp; 550-5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users", BounceType.Soft, "5.7.26")]
    [InlineData("5.7.1", "smtp; 550-5.7.1 Our system has detected that this message is likely unsolicited mail.", BounceType.Soft, "5.7.1")]
    // Microsoft 365 / Outlook.com
    [InlineData("5.1.10", "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", BounceType.Hard, "5.1.10")]
    [InlineData("5.5.0", "smtp;550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302) [DB5EUR03FT033.eop-EUR03.prod.protection.outlook.com]", BounceType.Hard, "5.5.0")]
    [InlineData("5.4.1", "smtp;550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [AM4PEPF00025F96.EURPRD83.prod.outlook.com]", BounceType.Hard, "5.4.1")]
    [InlineData("5.2.2", "smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", BounceType.Soft, "5.2.2")]
    [InlineData("5.7.1", "smtp;550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", BounceType.Soft, "5.7.1")]
    [InlineData("5.4.1", "smtp;550 5.4.1 No answer from host", BounceType.Soft, "5.4.1")]
    // Yahoo
    [InlineData("5.0.0", "smtp; 554 delivery error: dd This user doesn't have a yahoo.com account (zoe@yahoo.com) [0] - mta1234.mail.ne1.yahoo.com", BounceType.Hard, "5.0.0")]
    [InlineData("4.7.0", "smtp; 421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to unexpected volume or user complaints", BounceType.Soft, "4.7.0")]
    [InlineData("5.7.9", "smtp; 554 5.7.9 Message not accepted for policy reasons.", BounceType.Soft, "5.7.9")]
    [InlineData("5.0.0", "smtp; 552 1 Requested mail action aborted, mailbox not found", BounceType.Hard, "5.0.0")]
    // Postfix
    [InlineData("5.1.1", "smtp; 550 5.1.1 <zoe@example.org>: Recipient address rejected: User unknown in virtual mailbox table", BounceType.Hard, "5.1.1")]
    [InlineData("5.0.0", "smtp; 550 5.1.1 <zoe@example.org>: Recipient address rejected: User unknown in relay recipient table", BounceType.Hard, "5.1.1")]
    [InlineData("5.4.4", "Host or domain name not found. Name service error for name=nowhere.example type=A: Host not found", BounceType.Hard, "5.4.4")]
    [InlineData("5.1.10", "Domain example.net does not accept mail (nullMX)", BounceType.Hard, "5.1.10")]
    [InlineData("4.4.1", "connect to mx.example.org[192.0.2.1]:25: Connection timed out", BounceType.Soft, "4.4.1")]
    [InlineData("5.1.7", "smtp; 553 5.1.7 <b-x@bounces.example.com>: Sender address rejected: Domain not found", BounceType.Soft, "5.1.7")]
    // Exim and older MTAs
    [InlineData(null, "SMTP error from remote mail server after RCPT TO:<zoe@example.org>: 550 Unrouteable address", BounceType.Hard, "550")]
    [InlineData(null, "550 No such user here", BounceType.Hard, "550")]
    [InlineData(null, "550 Message rejected as spam", BounceType.Soft, "550")]
    [InlineData(null, "553 sorry, that domain isn't in my list of allowed rcpthosts", BounceType.Hard, "553")]
    [InlineData(null, "452 Insufficient system storage", BounceType.Soft, "452")]
    [InlineData(null, "The recipient's mailbox is full", BounceType.Soft, null)]
    [InlineData(null, "This user does not exist", BounceType.Hard, null)]
    [InlineData(null, "Delivery failed for unknown reasons", BounceType.Soft, null)]
    public void Failures_are_classified_by_code_then_by_text(string? status, string text, BounceType type, string? code)
    {
        var result = BounceClassifier.Classify(status, text);

        Assert.Equal(new BounceClass(type, code), result);
    }

    [Theory]
    [InlineData(550, "5.1.1 <zoe@example.org>: Recipient address rejected: User unknown", BounceType.Hard, "5.1.1")]
    [InlineData(552, "5.2.2 Mailbox full", BounceType.Soft, "5.2.2")]
    [InlineData(550, "Requested action not taken: mailbox unavailable", BounceType.Hard, "550")]
    [InlineData(451, "gave up after 5 attempts: 4.3.0 Temporary lookup failure", BounceType.Soft, "4.3.0")]
    public void Synchronous_replies_are_classified_like_reported_ones(int code, string text, BounceType type, string expected)
    {
        Assert.Equal(new BounceClass(type, expected), BounceClassifier.ClassifyReply(code, text));
    }

    [Theory]
    [InlineData(250)]
    [InlineData(354)]
    [InlineData(0)]
    public void A_reply_that_is_not_a_failure_is_not_a_bounce(int code) => Assert.Null(BounceClassifier.ClassifyReply(code, "ok"));

    [Fact]
    public void Version_numbers_and_addresses_are_not_status_codes()
    {
        Assert.Null(BounceClassifier.FindEnhanced("Postfix 3.7.11 on mx 192.0.2.1"));
        Assert.Equal("5.1.1", BounceClassifier.FindEnhanced("said: 550 5.1.1 user unknown")?.ToString());
    }
}
