using System.Net.Sockets;
using System.Text;
using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using MimeKit;

namespace Herald.Core.Tests.Delivery;

public class SmtpSessionTests
{
    [Fact]
    public async Task Send_pipelines_the_envelope_and_the_server_receives_the_message_unstuffed()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var session = await OpenAsync(server.Port);
        using var wire = WireMessage.Create(Message(".a dot line\r\nbody"));

        var result = await session.SendAsync("from@example.com", "alice@example.com", wire.Bytes, chunked: false, smtpUtf8: false, TestContext.Current.CancellationToken);

        Assert.Equal(AttemptKind.Delivered, result.Kind);
        Assert.True(session.FinalDotWritten);
        Assert.Equal(1, server.FinalDotsFor("alice@example.com"));
        Assert.Contains("\r\n.a dot line\r\nbody\r\n", Encoding.ASCII.GetString(Assert.Single(server.Messages).Data), StringComparison.Ordinal);
        Assert.Equal(["MAIL FROM:<from@example.com>", "RCPT TO:<alice@example.com>", "DATA"],
            server.Commands.Select(c => c.Line).Where(l => !l.StartsWith("EHLO", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Send_without_pipelining_stops_at_the_first_refusal_and_never_sends_data()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Pipelining = false, OnRcpt = _ => SmtpAction.Reply(550, "5.1.1 no such user") });
        await using var session = await OpenAsync(server.Port);
        using var wire = WireMessage.Create(Message("body"));

        var result = await session.SendAsync("from@example.com", "nobody@example.com", wire.Bytes, chunked: false, smtpUtf8: false, TestContext.Current.CancellationToken);

        Assert.Equal((AttemptKind.Rejected, 550), (result.Kind, result.Code));
        Assert.Contains("no such user", result.Text, StringComparison.Ordinal);
        Assert.False(session.FinalDotWritten);
        Assert.DoesNotContain(server.Commands, c => c.Line == "DATA");
        Assert.True(session.IsConnected);
    }

    [Fact]
    public async Task Send_keeps_the_refusal_reply_when_the_server_closes_right_after_it()
    {
        // The scriptable server closes after a 421, before answering the pipelined RCPT and DATA.
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { OnMail = _ => SmtpAction.Reply(421, "4.7.0 closing, try later") });
        await using var session = await OpenAsync(server.Port);
        using var wire = WireMessage.Create(Message("body"));

        var result = await session.SendAsync("from@example.com", "alice@example.com", wire.Bytes, chunked: false, smtpUtf8: false, TestContext.Current.CancellationToken);

        Assert.Equal((AttemptKind.Retry, 421), (result.Kind, result.Code));
        Assert.Contains("try later", result.Text, StringComparison.Ordinal);
        Assert.True(result.ConnectionBroken);
        Assert.False(session.IsConnected);
    }

    [Fact]
    public async Task Send_refuses_an_address_that_would_inject_a_command()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript());
        await using var session = await OpenAsync(server.Port);
        using var wire = WireMessage.Create(Message("body"));

        var result = await session.SendAsync("from@example.com", "a@example.com>\r\nRCPT TO:<b@example.com", wire.Bytes, chunked: false, smtpUtf8: false, TestContext.Current.CancellationToken);

        Assert.Equal(AttemptKind.Rejected, result.Kind);
        Assert.DoesNotContain(server.Commands, c => c.Line.StartsWith("MAIL", StringComparison.Ordinal));
    }

    private static async Task<SmtpSession> OpenAsync(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port, TestContext.Current.CancellationToken);
        return await SmtpSession.OpenAsync(socket, "127.0.0.1", "example.com", implicitTls: false, StartTlsMode.None, insecureSkipVerify: false, credentials: null, TestContext.Current.CancellationToken);
    }

    internal static MimeMessage Message(string body)
    {
        var message = new MimeMessage((IEnumerable<Header>)[]) { Subject = "s", MessageId = "1@example.com" };
        message.From.Add(new MailboxAddress("", "from@example.com"));
        message.To.Add(new MailboxAddress("", "alice@example.com"));
        message.Body = new TextPart("plain") { Text = body, ContentTransferEncoding = ContentEncoding.SevenBit };
        return message;
    }
}
