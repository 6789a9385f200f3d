using System.Net.Sockets;
using System.Text;
using Herald.Campaigns;
using Herald.Core.Tests.Smtp;
using Herald.Delivery;
using Herald.Store;
using MimeKit;

namespace Herald.Core.Tests.Delivery;

/// <summary>
/// CHUNKING (RFC 3030): the content goes as one non-final BDAT chunk whose reply is awaited before <c>BDAT 0 LAST</c>,
/// so a connection lost while the content is in transit is known undelivered; doubt is left only for the last command.
/// </summary>
public sealed class ChunkingTests
{
    private static readonly string Alice = EngineHarness.Address(0);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Session_sends_one_chunk_then_BDAT_LAST_and_the_relay_receives_the_message_unstuffed()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true });
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", server.Port, Ct);
        await using var session = await SmtpSession.OpenAsync(socket, "127.0.0.1", "example.com", false, StartTlsMode.None, false, null, Ct);
        using var message = SmtpSessionTests.Message(".a dot line\r\nbody");
        using var wire = WireMessage.Create(message, dotStuff: false);

        var result = await session.SendAsync("from@example.com", "alice@example.com", wire.Bytes, chunked: true, smtpUtf8: false, Ct);

        Assert.Equal((AttemptKind.Delivered, SmtpStage.Final), (result.Kind, result.Stage));
        Assert.True(session.Chunking);
        Assert.Equal(["MAIL FROM:<from@example.com>", "RCPT TO:<alice@example.com>", $"BDAT {wire.Bytes.Length}", "BDAT 0 LAST"],
            server.Commands.Select(c => c.Line).Where(l => !l.StartsWith("EHLO", StringComparison.Ordinal)));
        Assert.Equal(wire.Bytes.ToArray(), Assert.Single(server.Messages).Data);
        Assert.Contains("\r\n.a dot line\r\n", Encoding.ASCII.GetString(server.Messages[0].Data), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Engine_uses_BDAT_when_offered_and_DATA_when_the_relay_turns_chunking_off()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true });
        await using var harness = await EngineHarness.CreateAsync(3);

        await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port));
        var chunked = server.Commands.Count(c => c.Line == "BDAT 0 LAST");
        await using var second = await EngineHarness.CreateAsync(3);
        await second.SendAsync(EngineHarness.Campaign(t => { t.Connections = 1; t.Chunking = false; }, server.Port));

        Assert.Equal(3, chunked);
        Assert.Equal(3, server.Commands.Count(c => c.Line == "DATA"));
        Assert.Equal(6, server.Messages.Count);
        // Either way the relay receives the same message.
        foreach (var pair in server.Messages.GroupBy(m => m.Recipient))
        {
            var parsed = pair.Select(m => MimeMessage.Load(new MemoryStream(m.Data), Ct)).ToList();
            Assert.Equal(2, parsed.Count);
            Assert.Equal(parsed[0].MessageId, parsed[1].MessageId);
            Assert.Equal(parsed[0].TextBody, parsed[1].TextBody);
            parsed.ForEach(p => p.Dispose());
        }
    }

    [Fact]
    public async Task A_connection_lost_in_the_middle_of_the_chunk_is_known_undelivered_and_retried()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true, OnDataBody = c => c.Attempt == 1 ? SmtpAction.Close : null });
        await using var harness = await EngineHarness.CreateAsync(1);
        var factory = new TestMessageFactory { Override = item => TestMessageFactory.Large(item, 50_000) };

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port), factory);

        Assert.Equal((DeliveryStop.Completed, 1L, 0L), (result.Stop, result.Counts.Sent, result.Counts.InDoubt));
        Assert.Equal(1, server.FinalDotsFor(Alice));
        Assert.Equal(2, server.Connections);
    }

    [Fact]
    public async Task A_connection_lost_after_the_chunk_but_before_its_reply_is_retried()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true, OnChunk = c => c.Attempt == 1 ? SmtpAction.Close : null });
        await using var harness = await EngineHarness.CreateAsync(1);

        var result = await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal((DeliveryStop.Completed, 1L, 0L), (result.Stop, result.Counts.Sent, result.Counts.InDoubt));
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task A_connection_lost_after_BDAT_LAST_is_in_doubt_and_never_resent()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true, OnFinalDot = _ => SmtpAction.Close });
        await using var harness = await EngineHarness.CreateAsync(1);

        var first = await harness.SendAsync(EngineHarness.Campaign(server.Port));
        await harness.SendAsync(EngineHarness.Campaign(server.Port));

        Assert.Equal(1, first.Counts.InDoubt);
        var record = await harness.RecordAsync(0);
        Assert.Equal(DeliveryState.InDoubt, record.State);
        Assert.Contains("after the BDAT LAST", record.SmtpText, StringComparison.Ordinal);
        Assert.Equal(1, server.FinalDotsFor(Alice));
    }

    [Fact]
    public async Task A_temporary_refusal_of_the_chunk_is_retried_and_a_refused_envelope_sends_no_LAST()
    {
        await using var server = ScriptableSmtpServer.Start(new SmtpScript
        {
            Chunking = true,
            OnChunk = c => c.Attempt == 1 ? SmtpAction.Reply(452, "4.3.1 insufficient system storage") : null,
            OnRcpt = c => c.Recipient == EngineHarness.Address(1) ? SmtpAction.Reply(550, "5.1.1 no such user") : null,
        });
        await using var harness = await EngineHarness.CreateAsync(2);

        var result = await harness.SendAsync(EngineHarness.Campaign(t => t.Connections = 1, server.Port));

        Assert.Equal((1L, 1L), (result.Counts.Sent, result.Counts.Failed));
        Assert.Equal(1, server.FinalDotsFor(Alice));
        Assert.Equal(0, server.FinalDotsFor(EngineHarness.Address(1)));
        Assert.Equal(1, server.Commands.Count(c => c.Line == "BDAT 0 LAST"));
    }

    /// <summary>
    /// The comparison the issue asks for: the same relay, offering CHUNKING, drops every connection while the content
    /// of a 50 kB message is in transit (first attempt of each recipient). With DATA the client's write of the
    /// message and its final dot has completed when the connection drops, so it cannot know: in doubt. With BDAT the
    /// chunk's reply never came, so it knows: retried and delivered once.
    /// </summary>
    [Fact]
    public async Task Connections_dropped_mid_transfer_leave_recipients_in_doubt_with_DATA_and_none_with_BDAT()
    {
        const int recipients = 40;
        var counts = new Dictionary<bool, StateCounts>();
        foreach (var chunking in new[] { false, true })
        {
            await using var server = ScriptableSmtpServer.Start(new SmtpScript { Chunking = true, OnDataBody = c => c.Attempt == 1 ? SmtpAction.Close : null });
            await using var harness = await EngineHarness.CreateAsync(recipients);
            var factory = new TestMessageFactory { Override = item => TestMessageFactory.Large(item, 50_000) };

            var result = await harness.SendAsync(EngineHarness.Campaign(t => { t.Chunking = chunking; t.TransientStreak = 1000; }, server.Port), factory);

            counts[chunking] = result.Counts;
            Assert.Equal(DeliveryStop.Completed, result.Stop);
            Assert.All(Enumerable.Range(0, recipients), i => Assert.InRange(server.AcceptedFor(EngineHarness.Address(i)), 0, 1));
            TestContext.Current.TestOutputHelper?.WriteLine($"{(chunking ? "BDAT" : "DATA")}: sent={result.Counts.Sent} in_doubt={result.Counts.InDoubt} of {recipients}, every first transfer dropped");
        }

        Assert.True(counts[false].InDoubt > recipients / 2, $"DATA left {counts[false].InDoubt} in doubt");
        Assert.Equal(((long)recipients, 0L), (counts[true].Sent, counts[true].InDoubt));
    }
}
