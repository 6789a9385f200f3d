using System.Net.Sockets;
using Herald.Delivery;
using MailKit.Net.Smtp;

namespace Herald.Core.Tests.Delivery;

public sealed class AttemptResultTests
{
    [Theory]
    [InlineData(SmtpErrorCode.RecipientNotAccepted, SmtpStatusCode.MailboxUnavailable, false, AttemptKind.Rejected)]
    [InlineData(SmtpErrorCode.SenderNotAccepted, SmtpStatusCode.MailboxBusy, false, AttemptKind.Retry)]
    [InlineData(SmtpErrorCode.MessageNotAccepted, SmtpStatusCode.InsufficientStorage, true, AttemptKind.Retry)]
    [InlineData(SmtpErrorCode.MessageNotAccepted, SmtpStatusCode.TransactionFailed, true, AttemptKind.Rejected)]
    [InlineData(SmtpErrorCode.MessageNotAccepted, SmtpStatusCode.TransactionFailed, false, AttemptKind.Rejected)]
    public void Command_errors_classify_by_reply_class(SmtpErrorCode error, SmtpStatusCode status, bool afterDot, AttemptKind expected)
    {
        var result = AttemptResult.Classify(new SmtpCommandException(error, status, "reply"), afterDot);

        Assert.Equal(expected, result.Kind);
        Assert.Equal((int)status, result.Code);
    }

    [Fact]
    public void Service_closing_421_is_retried_on_a_new_connection()
    {
        var result = AttemptResult.Classify(new SmtpCommandException(SmtpErrorCode.MessageNotAccepted, SmtpStatusCode.ServiceNotAvailable, "closing"), true);

        Assert.Equal((AttemptKind.Retry, true), (result.Kind, result.ConnectionBroken));
    }

    [Theory]
    [InlineData(false, AttemptKind.Retry)]
    [InlineData(true, AttemptKind.InDoubt)]
    public void Lost_connections_and_timeouts_depend_on_whether_the_final_dot_was_written(bool afterDot, AttemptKind expected)
    {
        Exception[] errors = [new IOException("reset"), new SocketException(104), new SmtpProtocolException("eof"), new OperationCanceledException(), new TimeoutException()];
        foreach (var error in errors)
        {
            var result = AttemptResult.Classify(error, afterDot);
            Assert.Equal(expected, result.Kind);
            Assert.True(result.ConnectionBroken);
        }
    }
}
