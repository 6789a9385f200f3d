using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;

namespace Herald.Delivery;

/// <summary>What one SMTP transaction proved about delivery.</summary>
public enum AttemptKind
{
    /// <summary>2xx after the final dot: the relay took the message.</summary>
    Delivered,

    /// <summary>5xx to MAIL/RCPT/DATA or after the final dot: permanent.</summary>
    Rejected,

    /// <summary>The relay did not take the message (any failure before the final dot, or 4xx after it): safe to retry.</summary>
    Retry,

    /// <summary>No reply or a lost connection after the final dot: the message may have been delivered.</summary>
    InDoubt,
}

/// <summary>The classified outcome of one attempt.</summary>
/// <param name="ConnectionBroken">The connection cannot be reused.</param>
public sealed record AttemptResult(AttemptKind Kind, int? Code, string Text, bool ConnectionBroken)
{
    /// <summary>
    /// Maps what MailKit reported onto the delivery state machine. <paramref name="finalDotWritten"/> comes from our
    /// own tracking of the bytes that reached the socket, because MailKit's error codes alone cannot tell a failure
    /// before the data from one after the final dot (MessageNotAccepted is used for both).
    /// </summary>
    public static AttemptResult Classify(Exception error, bool finalDotWritten)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (error is SmtpCommandException command)
        {
            var code = (int)command.StatusCode;
            var text = $"{code} {command.Message}".Trim();
            // 421 means the server is closing the channel.
            var broken = code == 421;
            if (code is >= 500 and < 600)
            {
                return new AttemptResult(AttemptKind.Rejected, code, text, broken);
            }

            if (code is >= 400 and < 500)
            {
                return new AttemptResult(AttemptKind.Retry, code, text, broken);
            }

            // An unexpected non-error reply: after the dot nobody knows what the relay did with the message.
            return new AttemptResult(finalDotWritten ? AttemptKind.InDoubt : AttemptKind.Retry, code, text, true);
        }

        var reason = error switch
        {
            OperationCanceledException or TimeoutException => finalDotWritten ? "no reply to the final dot in time" : "timed out",
            SmtpProtocolException => $"protocol error: {error.Message}",
            IOException or SocketException => $"connection lost: {error.Message}",
            ServiceNotConnectedException => "connection lost",
            _ => $"{error.GetType().Name}: {error.Message}",
        };
        if (finalDotWritten)
        {
            return new AttemptResult(AttemptKind.InDoubt, null, $"{reason} (after the final dot: the relay may have the message)", true);
        }

        return new AttemptResult(AttemptKind.Retry, null, $"{reason} (before the final dot: not delivered)", true);
    }
}
