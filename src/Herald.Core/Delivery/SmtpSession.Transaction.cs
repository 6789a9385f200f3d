using System.Globalization;
using System.Net.Sockets;

namespace Herald.Delivery;

internal sealed partial class SmtpSession
{
    /// <summary>
    /// One transaction for one recipient; returns the classified outcome and never throws for SMTP or network failures.
    /// With <paramref name="chunked"/> (the relay offers CHUNKING), <paramref name="message"/> is the raw message and goes
    /// as one non-final <c>BDAT</c> chunk whose reply is awaited before the tiny <c>BDAT 0 LAST</c>: a connection lost
    /// while the content is in transit is then known undelivered. Otherwise <paramref name="message"/> is dot-stuffed,
    /// ends with CRLF <c>.CRLF</c>, and goes after DATA. <paramref name="sender"/> and <paramref name="recipient"/> are
    /// wire forms (A-label domains); <paramref name="smtpUtf8"/> adds the SMTPUTF8 parameter to MAIL FROM.
    /// </summary>
    public async Task<AttemptResult> SendAsync(string sender, string recipient, ReadOnlyMemory<byte> message, bool chunked, bool smtpUtf8, CancellationToken cancellationToken)
    {
        FinalDotWritten = false;
        if (!IsSafeAddress(sender) || !IsSafeAddress(recipient))
        {
            return new AttemptResult(AttemptKind.Rejected, null, "address not fit for an SMTP command (control characters or angle brackets)", false);
        }

        var stage = SmtpStage.Mail;
        try
        {
            var length = 0;
            length += Put(length, "MAIL FROM:<"u8);
            length += PutAscii(length, sender);
            length += Put(length, smtpUtf8 ? "> SMTPUTF8\r\n"u8 : ">\r\n"u8);
            var rcptAt = length;
            length += Put(length, "RCPT TO:<"u8);
            length += PutAscii(length, recipient);
            length += Put(length, ">\r\n"u8);
            var dataAt = length;
            length += chunked
                ? PutAscii(length, string.Create(CultureInfo.InvariantCulture, $"BDAT {message.Length}\r\n"))
                : Put(length, "DATA\r\n"u8);
            int mail, rcpt = 0, data = 0;
            string mailText, rcptText = "", dataText = "";
            if (Pipelining)
            {
                await WriteCommandAsync(_command.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                if (chunked)
                {
                    // The chunk follows its command at once (RFC 3030 is built for pipelining). When the relay refused
                    // the envelope and hung up, this write may fail: the replies already received still say why.
                    await WriteContentAsync(message, cancellationToken, tolerateFailure: true).ConfigureAwait(false);
                }

                mail = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                mailText = _lastText;
                // Once a step was refused, that reply is the outcome: a server that then closes must not turn a
                // permanent refusal into a "connection lost" retry.
                stage = SmtpStage.Rcpt;
                rcpt = await ReadFollowingAsync(mail / 100 != 2, cancellationToken).ConfigureAwait(false);
                rcptText = _lastText;
                stage = chunked ? SmtpStage.Content : SmtpStage.Data;
                data = await ReadFollowingAsync(mail / 100 != 2 || rcpt / 100 != 2, cancellationToken).ConfigureAwait(false);
                dataText = _lastText;
            }
            else
            {
                await WriteCommandAsync(_command.AsMemory(0, rcptAt), cancellationToken).ConfigureAwait(false);
                mail = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                mailText = _lastText;
                if (mail / 100 == 2)
                {
                    stage = SmtpStage.Rcpt;
                    await WriteCommandAsync(_command.AsMemory(rcptAt, dataAt - rcptAt), cancellationToken).ConfigureAwait(false);
                    rcpt = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                    rcptText = _lastText;
                    if (rcpt / 100 == 2)
                    {
                        stage = chunked ? SmtpStage.Content : SmtpStage.Data;
                        await WriteCommandAsync(_command.AsMemory(dataAt, length - dataAt), cancellationToken).ConfigureAwait(false);
                        if (chunked)
                        {
                            await WriteContentAsync(message, cancellationToken, tolerateFailure: false).ConfigureAwait(false);
                        }

                        data = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                        dataText = _lastText;
                    }
                }
            }

            // The first refusal is the reason (later replies in a pipelined group only echo it).
            var expected = chunked ? 250 : 354;
            var refused = mail / 100 != 2 ? (mail, SmtpStage.Mail, mailText)
                : rcpt / 100 != 2 ? (rcpt, SmtpStage.Rcpt, rcptText)
                : data != expected ? (data, chunked ? SmtpStage.Content : SmtpStage.Data, dataText)
                : (0, SmtpStage.None, "");
            if (refused.Item2 != SmtpStage.None)
            {
                if (!chunked && data == 354)
                {
                    // The server opened the data phase although the envelope failed: never send the message; drop the connection.
                    _broken = true;
                }
                else if (refused.Item1 != 421 && !_broken)
                {
                    // A refused BDAT chunk is discarded by the relay; RSET ends the transaction either way.
                    await ResetAsync(cancellationToken).ConfigureAwait(false);
                }

                return Refusal(refused.Item1, refused.Item2, refused.Item3);
            }

            stage = SmtpStage.Content;
            if (chunked)
            {
                await WriteCommandAsync("BDAT 0 LAST\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await WriteContentAsync(message, cancellationToken, tolerateFailure: false).ConfigureAwait(false);
            }

            FinalDotWritten = true;
            stage = SmtpStage.Final;
            OnFinalDot?.Invoke();
            var (code, reply) = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            var text = $"{code} {reply}".Trim();
            return code switch
            {
                >= 200 and < 300 => new AttemptResult(AttemptKind.Delivered, code, text, false) { Stage = stage },
                >= 400 and < 500 => new AttemptResult(AttemptKind.Retry, code, text, code == 421) { Stage = stage },
                >= 500 and < 600 => new AttemptResult(AttemptKind.Rejected, code, text, false) { Stage = stage },
                // An unexpected non-error reply: after the end of the message nobody knows what the relay did with it.
                _ => new AttemptResult(AttemptKind.InDoubt, code, text, true) { Stage = stage },
            };
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            _broken = true;
            var end = chunked ? "BDAT LAST" : "final dot";
            var reason = ex switch
            {
                OperationCanceledException => FinalDotWritten ? $"no reply to the {end} in time" : "timed out",
                SmtpReplyException => $"protocol error: {ex.Message}",
                _ => $"connection lost: {ex.Message}",
            };
            return FinalDotWritten
                ? new AttemptResult(AttemptKind.InDoubt, null, $"{reason} (after the {end}: the relay may have the message)", true) { Stage = stage }
                : new AttemptResult(AttemptKind.Retry, null, $"{reason} (before the {end}: not delivered)", true) { Stage = stage };
        }

        AttemptResult Refusal(int code, SmtpStage at, string reply)
        {
            var text = $"{code} {reply}".Trim();
            var broken = code == 421 || _broken;
            return code is >= 500 and < 600
                ? new AttemptResult(AttemptKind.Rejected, code, text, broken) { Stage = at }
                : new AttemptResult(AttemptKind.Retry, code, code is >= 400 and < 500 ? text : $"{text} (unexpected reply to {Describe(at, chunked)})", broken || code is < 400 or >= 600) { Stage = at };
        }
    }

    private static string Describe(SmtpStage stage, bool chunked) => stage switch
    {
        SmtpStage.Mail => "MAIL FROM",
        SmtpStage.Rcpt => "RCPT TO",
        SmtpStage.Data => "DATA",
        SmtpStage.Content => chunked ? "BDAT" : "the message",
        _ => "the end of the message",
    };

    private async Task WriteContentAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken, bool tolerateFailure)
    {
        _log?.Invoke('>', string.Create(CultureInfo.InvariantCulture, $"[message content: {message.Length} bytes, not logged]"));
        try
        {
            await _stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (tolerateFailure && ex is IOException or SocketException)
        {
            // The connection is gone; reading the replies that did arrive decides the outcome.
            _broken = true;
        }
    }

    private async Task<int> ReadFollowingAsync(bool alreadyRefused, CancellationToken cancellationToken)
    {
        if (!alreadyRefused)
        {
            return await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            _broken = true;
            return 0;
        }
    }

    /// <summary>Ends a refused transaction so the connection can be reused; a connection that cannot is dropped.</summary>
    private async Task ResetAsync(CancellationToken cancellationToken)
    {
        try
        {
            await WriteCommandAsync("RSET\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            if (await ReadCodeAsync(cancellationToken).ConfigureAwait(false) / 100 != 2)
            {
                _broken = true;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            _broken = true;
        }
    }
}
