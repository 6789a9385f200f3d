using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Herald.Cli.Sink;
using MailKit.Net.Smtp;
using MimeKit;

namespace Herald.Cli.Tests.Sink;

public sealed class CaptureSinkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-sink-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Round_trip_keeps_the_message_as_eml_logs_it_and_counts_it()
    {
        var outDir = Path.Combine(_dir, "eml");
        var logFile = Path.Combine(_dir, "sink.log");
        await using var sink = await CaptureSink.StartAsync(
            new CaptureSinkOptions { Port = 0, OutDir = outDir, LogFile = logFile }, Ct);

        using var sent = NewMessage("ann@example.org", "rt-1@herald.test");
        await SendAsync(sink.Port, [sent]);
        await sink.WaitForCountAsync(1, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(1, sink.Count);
        var file = Assert.Single(Directory.GetFiles(outDir, "*.eml"));
        using var received = await MimeMessage.LoadAsync(file, Ct);
        Assert.Equal(sent.MessageId, received.MessageId);
        Assert.Equal(sent.Subject, received.Subject);
        Assert.Equal(sent.From.ToString(), received.From.ToString());
        Assert.Equal(sent.To.ToString(), received.To.ToString());
        Assert.Equal(sent.Headers["X-Campaign-Topic"], received.Headers["X-Campaign-Topic"]);
        Assert.Equal(Normalize(sent.TextBody), Normalize(received.TextBody));
        Assert.Equal(Normalize(sent.HtmlBody), Normalize(received.HtmlBody));

        var fields = Assert.Single(await File.ReadAllLinesAsync(logFile, Ct)).Split('\t');
        Assert.Equal(4, fields.Length);
        Assert.InRange(long.Parse(fields[0]), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal("<rt-1@herald.test>", fields[1]);
        Assert.Equal("ann@example.org", fields[2]);
        Assert.Equal(new FileInfo(file).Length, long.Parse(fields[3]));
    }

    [Fact]
    public async Task Many_messages_on_one_connection_are_all_accepted()
    {
        const int Count = 300;
        var logFile = Path.Combine(_dir, "sink.log");
        await using var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0, LogFile = logFile }, Ct);

        var messages = Enumerable.Range(0, Count).Select(i => NewMessage($"r{i}@example.org", $"m{i}@herald.test")).ToList();
        try
        {
            await SendAsync(sink.Port, messages);
        }
        finally
        {
            messages.ForEach(m => m.Dispose());
        }

        await sink.WaitForCountAsync(Count, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(Count, sink.Count);
        var recipients = (await File.ReadAllLinesAsync(logFile, Ct)).Select(l => l.Split('\t')[2]).ToList();
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"r{i}@example.org"), recipients);
    }

    [Fact]
    public async Task A_message_it_cannot_keep_gets_a_transient_reply_and_is_not_counted()
    {
        var outDir = Path.Combine(_dir, "eml");
        await using var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0, OutDir = outDir }, Ct);
        Directory.Delete(outDir, recursive: true);

        using var message = NewMessage("ann@example.org", "gone@herald.test");
        var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => SendAsync(sink.Port, [message]));
        Assert.Equal(451, (int)refused.StatusCode);
        Assert.Contains("could not keep the message", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, sink.Count);
    }

    [Fact]
    public async Task Without_out_dir_nothing_is_written_to_disk()
    {
        await using var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0 }, Ct);
        using var message = NewMessage("ann@example.org", "no-out@herald.test");
        await SendAsync(sink.Port, [message]);
        Assert.Equal(1, sink.Count);
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public async Task Eml_names_are_unique_across_sinks_sharing_a_folder()
    {
        await using var first = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0, OutDir = _dir }, Ct);
        await using var second = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0, OutDir = _dir }, Ct);
        using var a = NewMessage("a@example.org", "a@herald.test");
        using var b = NewMessage("b@example.org", "b@herald.test");
        await SendAsync(first.Port, [a]);
        await SendAsync(second.Port, [b]);
        Assert.Equal(2, Directory.GetFiles(_dir, "*.eml").Length);
    }

    [Fact]
    public async Task Delay_holds_back_the_reply_to_the_final_dot()
    {
        var delay = TimeSpan.FromMilliseconds(300);
        await using var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0, Delay = delay }, Ct);
        using var client = await ConnectAsync(sink.Port);
        using var message = NewMessage("ann@example.org", "slow@herald.test");

        var clock = Stopwatch.StartNew();
        await client.SendAsync(message, Ct);

        Assert.True(clock.Elapsed >= delay - TimeSpan.FromMilliseconds(20), $"replied after {clock.Elapsed}");
        Assert.Equal(1, sink.Count);
    }

    [Fact]
    public async Task WaitForCount_completes_only_when_the_count_is_reached()
    {
        await using var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0 }, Ct);
        var waiting = sink.WaitForCountAsync(2, Ct);
        using var first = NewMessage("a@example.org", "w1@herald.test");
        using var second = NewMessage("b@example.org", "w2@herald.test");

        await SendAsync(sink.Port, [first]);
        Assert.False(waiting.IsCompleted);
        await SendAsync(sink.Port, [second]);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task Start_fails_when_the_port_is_taken()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await Assert.ThrowsAsync<SocketException>(() => CaptureSink.StartAsync(new CaptureSinkOptions { Port = port }, Ct));
    }

    [Fact]
    public async Task Dispose_stops_listening()
    {
        var sink = await CaptureSink.StartAsync(new CaptureSinkOptions { Port = 0 }, Ct);
        var port = sink.Port;
        await sink.DisposeAsync();

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(() => socket.ConnectAsync(IPAddress.Loopback, port, Ct).AsTask());
    }

    internal static MimeMessage NewMessage(string to, string messageId)
    {
        var message = new MimeMessage { MessageId = messageId, Subject = "Ann, your spring picks ✿" };
        message.From.Add(new MailboxAddress("Example Shop", "news@shop.example.com"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Headers.Add("X-Campaign-Topic", "spring");
        var body = new BodyBuilder
        {
            // A line starting with a dot checks dot-stuffing both ways.
            TextBody = "Hello Ann,\r\n.a line that starts with a dot\r\n..two dots\r\nBye\r\n",
            HtmlBody = "<html><body><p>Hello <b>Ann</b></p>\r\n.<p>dot</p></body></html>\r\n",
        };
        message.Body = body.ToMessageBody();
        return message;
    }

    private static async Task<SmtpClient> ConnectAsync(int port)
    {
        var client = new SmtpClient();
        await client.ConnectAsync("127.0.0.1", port, MailKit.Security.SecureSocketOptions.None, Ct);
        return client;
    }

    internal static async Task SendAsync(int port, IReadOnlyList<MimeMessage> messages)
    {
        using var client = await ConnectAsync(port);
        foreach (var message in messages)
        {
            await client.SendAsync(message, Ct);
        }

        await client.DisconnectAsync(quit: true, Ct);
    }

    private static string? Normalize(string? text) => text?.ReplaceLineEndings("\n");
}
