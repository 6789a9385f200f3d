using Herald.Delivery;

namespace Herald.Core.Tests.Delivery;

/// <summary>Who a reply is about: the table the relay guards act on.</summary>
public sealed class ReplyClassifierTests
{
    [Theory]
    [InlineData(AttemptKind.Rejected, SmtpStage.Mail, 550, "550 5.1.0 Sender rejected", Blame.Relay)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Mail, 530, "530 5.7.0 Authentication required", Blame.Relay)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Rcpt, 530, "530 5.7.0 Authentication required", Blame.Relay)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Rcpt, 550, "550 5.7.8 authentication credentials invalid", Blame.Relay)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Rcpt, 550, "550 5.1.1 no such user", Blame.Recipient)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Final, 552, "552 5.2.2 mailbox full", Blame.Recipient)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Rcpt, 554, "554 5.7.1 client host blocked using zen.spamhaus.org", Blame.Policy)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Final, 550, "550 5.7.26 unauthenticated email is not accepted (DMARC)", Blame.Policy)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Final, 552, "552 5.3.4 message size exceeds fixed limit", Blame.Policy)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Final, 554, "554 Message rejected as spam", Blame.Policy)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Rcpt, 554, "554 Relay access denied", Blame.Policy)]
    [InlineData(AttemptKind.Rejected, SmtpStage.Rcpt, 550, "550 Mailbox unavailable", Blame.Recipient)]
    [InlineData(AttemptKind.Retry, SmtpStage.Rcpt, 451, "451 4.7.1 rate limited", Blame.Transient)]
    [InlineData(AttemptKind.Retry, SmtpStage.Mail, 421, "421 4.7.0 closing", Blame.Transient)]
    [InlineData(AttemptKind.Retry, SmtpStage.Content, null, "connection lost (before the final dot: not delivered)", Blame.Transient)]
    [InlineData(AttemptKind.Delivered, SmtpStage.Final, 250, "250 2.0.0 Ok", Blame.None)]
    [InlineData(AttemptKind.InDoubt, SmtpStage.Final, null, "no reply to the final dot in time", Blame.None)]
    public void Classifies_by_stage_enhanced_code_and_words(AttemptKind kind, SmtpStage stage, int? code, string text, Blame expected)
    {
        var result = new AttemptResult(kind, code, text, false) { Stage = stage };

        Assert.Equal(expected, ReplyClassifier.Classify(result));
    }
}
