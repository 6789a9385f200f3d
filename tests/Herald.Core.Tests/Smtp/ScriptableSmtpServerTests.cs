// What MailKit 4.18.2 SmtpClient does against each misbehaviour (found with these tests; the engine maps them
// onto delivery states). "Final dot received" is what the server saw; the client cannot know it in the rows marked *.
//
// | Stage / server action              | MailKit throws (from)                     | ErrorCode             | StatusCode | final dot received |
// |------------------------------------|-------------------------------------------|-----------------------|------------|--------------------|
// | port refuses (nothing listening)   | SocketException ConnectionRefused (Connect)| -                    | -          | no                 |
// | reset instead of greeting          | SocketException ConnectionReset (Connect) | -                     | -          | no                 |
// | close instead of greeting          | SmtpProtocolException (Connect)           | -                     | -          | no                 |
// | 421 / 554 greeting                 | SmtpCommandException (Connect)            | UnexpectedStatusCode  | 421 / 554  | no                 |
// | 421 to EHLO (then close)           | SmtpProtocolException (Connect; MailKit retries with HELO) | -    | -          | no                 |
// | 4xx/5xx to MAIL FROM               | SmtpCommandException (Send)               | SenderNotAccepted     | 451 / 550  | no                 |
// | 4xx/5xx to RCPT TO                 | SmtpCommandException (Send)               | RecipientNotAccepted  | 451 / 550  | no                 |
// | 4xx/5xx to DATA                    | SmtpCommandException (Send)               | UnexpectedStatusCode  | 451 / 554  | no                 |
// | close mid-DATA                     | IOException (broken pipe) while writing, or SmtpProtocolException when the whole message fit in the socket buffers | - | - | no |
// | * 421 mid-DATA, then close         | SmtpCommandException (Send)               | MessageNotAccepted    | 421        | no                 |
// | 4xx/5xx after the final dot        | SmtpCommandException (Send)               | MessageNotAccepted    | 451 / 554  | yes                |
// | 421 after the final dot, close     | SmtpCommandException (Send), IsConnected false | MessageNotAccepted | 421       | yes                |
// | * close right after the final dot  | SmtpProtocolException "unexpectedly disconnected" (Send) | -      | -          | yes                |
// | * stall after the final dot        | TimeoutException after SmtpClient.Timeout (Send), IsConnected false | - | -    | yes                |
// | stall anywhere else                | TimeoutException likewise                 | -                     | -          | no                 |
//
// PIPELINING: MailKit sends MAIL FROM and RCPT TO in one batch (RCPT goes out even when MAIL is then rejected), but
// DATA only after reading RCPT's reply; after a rejected MAIL/RCPT it sends RSET, never DATA. So a rejected RCPT
// can never be followed by message data. MailKit keeps the connection usable after 4xx/5xx replies (it sends RSET).
// MessageNotAccepted therefore means "after the data" only if the final dot reached the socket (the 421 mid-DATA
// row shows the client cannot tell from the exception); track the phase (IProtocolLogger) as LIBRARY-NOTES says.
using System.Net.Sockets;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.Core.Tests.Smtp;

public sealed class ScriptableSmtpServerTests
{
    private const string Rcpt = "ann@example.org";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Accepts_a_message_and_records_it_dot_unstuffed()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt, "Hello\r\n.starts with a dot\r\n..two\r\n.\r\nend\r\n");

        await client.SendAsync(message, Ct);

        Assert.Equal(1, server.FinalDotsFor(Rcpt));
        Assert.Equal(1, server.AcceptedFor("ANN@example.org"));
        var received = Assert.Single(server.Messages);
        Assert.Equal(Rcpt, received.Recipient);
        Assert.Equal(250, received.ReplyCode);
        using var parsed = MimeMessage.Load(new MemoryStream(received.Data), Ct);
        Assert.Equal(message.MessageId, parsed.MessageId);
        Assert.Equal(message.TextBody!.ReplaceLineEndings("\n"), parsed.TextBody?.ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Greeting_421_fails_the_connect()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnConnect = _ => SmtpAction.Reply(421, "4.3.0 try later") });
        using var client = new SmtpClient();

        var ex = await Assert.ThrowsAsync<SmtpCommandException>(() => client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None, Ct));

        Assert.Equal(SmtpErrorCode.UnexpectedStatusCode, ex.ErrorCode);
        Assert.Equal(SmtpStatusCode.ServiceNotAvailable, ex.StatusCode);
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task Close_instead_of_greeting_is_a_protocol_error()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnConnect = _ => SmtpAction.Close });
        using var client = new SmtpClient();

        await Assert.ThrowsAsync<SmtpProtocolException>(() => client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None, Ct));
    }

    [Fact]
    public async Task Refusing_port_gives_connection_refused_until_it_listens_again()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Refuse = true });
        using var client = new SmtpClient();

        var ex = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None, Ct));
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
        Assert.Equal(0, server.Connections);

        server.SetRefusing(false);
        await client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None, Ct);
        Assert.Equal(1, server.Connections);
    }

    [Theory]
    [InlineData(451, SmtpStatusCode.ErrorInProcessing)]
    [InlineData(550, SmtpStatusCode.MailboxUnavailable)]
    public async Task Rejected_MAIL_is_SenderNotAccepted_and_the_connection_stays_usable(int code, SmtpStatusCode status)
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnMail = c => c.Transaction == 1 ? SmtpAction.Reply(code, "x.0.0 not now") : null,
        });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message, Ct));
        Assert.Equal(SmtpErrorCode.SenderNotAccepted, ex.ErrorCode);
        Assert.Equal(status, ex.StatusCode);
        Assert.Equal(0, server.FinalDotsFor(Rcpt));

        await client.SendAsync(message, Ct);
        Assert.Equal(1, server.AcceptedFor(Rcpt));
        Assert.Equal(1, server.Connections);
    }

    [Theory]
    [InlineData(451, SmtpStatusCode.ErrorInProcessing, true)]
    [InlineData(550, SmtpStatusCode.MailboxUnavailable, true)]
    [InlineData(550, SmtpStatusCode.MailboxUnavailable, false)]
    public async Task Rejected_RCPT_is_RecipientNotAccepted_and_DATA_is_never_sent(int code, SmtpStatusCode status, bool pipelining)
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            Pipelining = pipelining,
            OnRcpt = _ => SmtpAction.Reply(code, "x.1.1 no such user"),
        });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message, Ct));

        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, ex.ErrorCode);
        Assert.Equal(status, ex.StatusCode);
        Assert.Equal(Rcpt, ex.Mailbox?.Address);
        await client.NoOpAsync(Ct); // the connection is still in step: every reply was consumed
        Assert.DoesNotContain(server.Commands, c => c.Line == "DATA");
        Assert.Contains(server.Commands, c => c.Line == "RSET");
        Assert.Equal(0, server.FinalDotsFor(Rcpt));
    }

    [Theory]
    [InlineData(451, SmtpStatusCode.ErrorInProcessing)]
    [InlineData(554, SmtpStatusCode.TransactionFailed)]
    public async Task Rejected_DATA_is_UnexpectedStatusCode(int code, SmtpStatusCode status)
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnData = _ => SmtpAction.Reply(code, "x.3.0 no data now") });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message, Ct));

        Assert.Equal(SmtpErrorCode.UnexpectedStatusCode, ex.ErrorCode);
        Assert.Equal(status, ex.StatusCode);
        Assert.Equal(0, server.FinalDotsFor(Rcpt));
    }

    [Theory]
    [InlineData(451, SmtpStatusCode.ErrorInProcessing)]
    [InlineData(554, SmtpStatusCode.TransactionFailed)]
    public async Task Rejection_after_the_final_dot_is_MessageNotAccepted(int code, SmtpStatusCode status)
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnFinalDot = _ => SmtpAction.Reply(code, "x.6.0 rejected") });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message, Ct));

        Assert.Equal(SmtpErrorCode.MessageNotAccepted, ex.ErrorCode);
        Assert.Equal(status, ex.StatusCode);
        Assert.True(client.IsConnected);
        Assert.Equal(1, server.FinalDotsFor(Rcpt));
        Assert.Equal(0, server.AcceptedFor(Rcpt));
        Assert.Equal(code, Assert.Single(server.Messages).ReplyCode);
    }

    [Fact]
    public async Task Reply_421_after_the_final_dot_is_MessageNotAccepted_and_disconnects()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnFinalDot = _ => SmtpAction.Reply(421, "4.3.0 shutting down") });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(message, Ct));

        Assert.Equal(SmtpErrorCode.MessageNotAccepted, ex.ErrorCode);
        Assert.Equal(SmtpStatusCode.ServiceNotAvailable, ex.StatusCode);
        Assert.False(client.IsConnected);
        Assert.Equal(1, server.FinalDotsFor(Rcpt));
    }

    [Fact]
    public async Task Reply_421_mid_DATA_looks_like_a_421_after_the_dot_to_MailKit()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnDataBody = _ => SmtpAction.Reply(421, "4.3.0 dying") });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(message, Ct));

        // Usually MessageNotAccepted/421 (the whole message fit in the socket buffers), sometimes a broken pipe.
        Assert.True(ex is SmtpCommandException { ErrorCode: SmtpErrorCode.MessageNotAccepted } or IOException, ex.ToString());
        Assert.Equal(0, server.FinalDotsFor(Rcpt));
    }

    [Fact]
    public async Task Close_mid_DATA_is_an_IO_or_protocol_error_and_no_final_dot()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnDataBody = _ => SmtpAction.Close });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(message, Ct));

        Assert.True(ex is IOException or SmtpProtocolException, ex.ToString());
        Assert.False(client.IsConnected);
        Assert.Equal(0, server.FinalDotsFor(Rcpt));
        Assert.Empty(server.Messages);
    }

    [Fact]
    public async Task Close_right_after_the_final_dot_is_a_protocol_error_with_the_message_received()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnFinalDot = _ => SmtpAction.Close });
        using var client = await ConnectAsync(server);
        using var message = NewMessage(Rcpt);

        await Assert.ThrowsAsync<SmtpProtocolException>(() => client.SendAsync(message, Ct));

        Assert.False(client.IsConnected);
        Assert.Equal(1, server.FinalDotsFor(Rcpt));
        Assert.Equal(0, server.AcceptedFor(Rcpt));
        Assert.Null(Assert.Single(server.Messages).ReplyCode);
    }

    [Fact]
    public async Task Stall_after_the_final_dot_times_out_the_client()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnFinalDot = _ => SmtpAction.Stall });
        using var client = await ConnectAsync(server);
        client.Timeout = 300;
        using var message = NewMessage(Rcpt);

        await Assert.ThrowsAsync<TimeoutException>(() => client.SendAsync(message, Ct));

        Assert.False(client.IsConnected);
        Assert.Equal(1, server.FinalDotsFor(Rcpt));
        Assert.Null(Assert.Single(server.Messages).ReplyCode);
    }

    [Fact]
    public async Task Attempts_are_counted_per_recipient_across_connections()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<(int Connection, int Attempt)>();
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            OnRcpt = c =>
            {
                seen.Enqueue((c.Connection, c.Attempt));
                return c.Attempt == 1 ? SmtpAction.Reply(451, "4.2.0 greylisted") : null;
            },
        });
        using var message = NewMessage(Rcpt);
        using (var first = await ConnectAsync(server))
        {
            await Assert.ThrowsAsync<SmtpCommandException>(() => first.SendAsync(message, Ct));
        }

        using var second = await ConnectAsync(server);
        await second.SendAsync(message, Ct);

        Assert.Equal([(1, 1), (2, 2)], seen.ToArray());
        Assert.Equal(2, server.Connections);
        Assert.Equal(1, server.AcceptedFor(Rcpt));
    }

    [Fact]
    public async Task Concurrent_connections_each_get_their_own_conversation()
    {
        const int Clients = 4;
        const int PerClient = 25;
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            // Every fifth transaction is refused after the data: replies must reach the right connection.
            OnFinalDot = c => c.Recipient!.EndsWith("0@example.org", StringComparison.Ordinal) ? SmtpAction.Reply(554, "5.6.0 no") : null,
        });

        var outcomes = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async k =>
        {
            using var client = await ConnectAsync(server);
            var accepted = 0;
            for (var i = 0; i < PerClient; i++)
            {
                using var message = NewMessage($"c{k}-{i}@example.org");
                try
                {
                    await client.SendAsync(message, Ct);
                    accepted++;
                }
                catch (SmtpCommandException ex) when (ex.ErrorCode == SmtpErrorCode.MessageNotAccepted)
                {
                }
            }

            return accepted;
        }));

        await server.WaitForFinalDotsAsync(Clients * PerClient, TimeSpan.FromSeconds(10));
        Assert.Equal(Clients * (PerClient - 3), outcomes.Sum()); // i = 0, 10, 20 are refused on each connection
        Assert.All(Enumerable.Range(0, Clients), k => Assert.Equal(1, server.FinalDotsFor($"c{k}-7@example.org")));
        Assert.Equal(0, server.AcceptedFor("c2-10@example.org"));
        Assert.Equal(Clients, server.Connections);
    }

    [Fact]
    public async Task WaitForFinalDots_times_out_when_too_few_arrive()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await Assert.ThrowsAsync<TimeoutException>(() => server.WaitForFinalDotsAsync(1, TimeSpan.FromMilliseconds(50)));
    }

    private static async Task<SmtpClient> ConnectAsync(ScriptableSmtpServer server)
    {
        var client = new SmtpClient { Timeout = 10_000 };
        await client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None, Ct);
        return client;
    }

    private static MimeMessage NewMessage(string to, string? text = null)
    {
        var message = new MimeMessage { MessageId = $"{Guid.NewGuid():N}@herald.test", Subject = "Spring picks" };
        message.From.Add(MailboxAddress.Parse("news@shop.example.com"));
        message.To.Add(MailboxAddress.Parse(to));
        // ~70 kB: larger than one socket write, like a real campaign message.
        message.Body = new TextPart("plain") { Text = text ?? string.Concat(Enumerable.Repeat("A line of a promotional email.\r\n", 2200)) };
        return message;
    }
}
