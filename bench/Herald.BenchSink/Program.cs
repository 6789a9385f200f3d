using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

// A fast SMTP sink for the throughput benchmark that, unlike Postfix's smtp-sink (which offers no CHUNKING) and the
// SmtpServer package (no BDAT), can take the same messages by DATA or by BDAT (RFC 3030): so the cost of each mode is
// measured against one server. It accepts everything, keeps nothing, answers pipelined commands in one write.
//   dotnet Herald.BenchSink.dll [--port N] [--chunking]
// Prints "listening on 127.0.0.1:PORT", and "received N messages (D by DATA, B by BDAT)" when stopped (SIGTERM/SIGINT).
var port = 0;
var chunking = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port" when i + 1 < args.Length:
            port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--chunking":
            chunking = true;
            break;
        default:
            Console.Error.WriteLine("usage: Herald.BenchSink [--port N] [--chunking]");
            return 2;
    }
}

using var stop = new CancellationTokenSource();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
listener.Listen(1024);
Console.WriteLine($"listening on 127.0.0.1:{((IPEndPoint)listener.LocalEndPoint!).Port}");
var counts = new Counts();
var sessions = new List<Task>();
try
{
    while (!stop.IsCancellationRequested)
    {
        var client = await listener.AcceptAsync(stop.Token);
        client.NoDelay = true;
        sessions.Add(Task.Run(() => Session.RunAsync(client, chunking, counts, stop.Token)));
    }
}
catch (OperationCanceledException)
{
}

Console.WriteLine($"received {counts.Data + counts.Bdat} messages ({counts.Data} by DATA, {counts.Bdat} by BDAT)");
return 0;

internal sealed class Counts
{
    public long Data;
    public long Bdat;
}

internal static class Session
{
    private static readonly byte[] Terminator = "\r\n.\r\n"u8.ToArray();

    public static async Task RunAsync(Socket socket, bool chunking, Counts counts, CancellationToken stop)
    {
        var ehlo = Encoding.ASCII.GetBytes("250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n" + (chunking ? "250-CHUNKING\r\n" : "") + "250 ENHANCEDSTATUSCODES\r\n");
        var buffer = new byte[256 * 1024];
        var output = new MemoryStream(4096);
        int start = 0, end = 0;
        var inData = false;
        long chunkLeft = 0;
        var chunkLast = false;
        using (socket)
        {
            try
            {
                await socket.SendAsync("220 bench-sink ESMTP\r\n"u8.ToArray(), stop);
                while (true)
                {
                    // Consume every complete thing in the buffer, then answer them all in one write.
                    while (true)
                    {
                        if (chunkLeft > 0)
                        {
                            var take = (int)Math.Min(chunkLeft, end - start);
                            start += take;
                            chunkLeft -= take;
                            if (chunkLeft > 0)
                            {
                                break;
                            }

                            if (chunkLast)
                            {
                                Interlocked.Increment(ref counts.Bdat);
                                output.Write("250 2.0.0 Ok: queued\r\n"u8);
                            }
                            else
                            {
                                output.Write("250 2.0.0 chunk received\r\n"u8);
                            }

                            continue;
                        }

                        var span = buffer.AsSpan(start, end - start);
                        if (inData)
                        {
                            var at = span.IndexOf(Terminator);
                            if (at < 0)
                            {
                                // Keep the last bytes: the terminator may straddle two reads.
                                start = Math.Max(start, end - (Terminator.Length - 1));
                                break;
                            }

                            start += at + Terminator.Length;
                            inData = false;
                            Interlocked.Increment(ref counts.Data);
                            output.Write("250 2.0.0 Ok: queued\r\n"u8);
                            continue;
                        }

                        var newline = span.IndexOf((byte)'\n');
                        if (newline < 0)
                        {
                            break;
                        }

                        var line = Encoding.ASCII.GetString(span[..newline]).TrimEnd('\r');
                        start += newline + 1;
                        var verb = (line.Length >= 4 ? line[..4] : line).ToUpperInvariant();
                        switch (verb)
                        {
                            case "EHLO":
                                output.Write(ehlo);
                                break;
                            case "DATA":
                                // Pretend the CRLF before the message was seen, so an empty message ends at ".\r\n".
                                inData = true;
                                output.Write("354 End data with <CR><LF>.<CR><LF>\r\n"u8);
                                start -= 2;
                                buffer[start] = (byte)'\r';
                                buffer[start + 1] = (byte)'\n';
                                break;
                            case "BDAT":
                                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                                chunkLeft = long.Parse(parts[1], CultureInfo.InvariantCulture);
                                chunkLast = parts.Length > 2 && parts[2].Equals("LAST", StringComparison.OrdinalIgnoreCase);
                                if (chunkLeft == 0)
                                {
                                    chunkLeft = -1;
                                }

                                break;
                            case "QUIT":
                                output.Write("221 2.0.0 Bye\r\n"u8);
                                await socket.SendAsync(output.ToArray(), stop);
                                return;
                            default:
                                output.Write("250 2.0.0 Ok\r\n"u8);
                                break;
                        }

                        if (chunkLeft == -1)
                        {
                            // BDAT 0 LAST: nothing to read.
                            chunkLeft = 0;
                            if (chunkLast)
                            {
                                Interlocked.Increment(ref counts.Bdat);
                                output.Write("250 2.0.0 Ok: queued\r\n"u8);
                            }
                            else
                            {
                                output.Write("250 2.0.0 chunk received\r\n"u8);
                            }
                        }
                    }

                    if (output.Length > 0)
                    {
                        await socket.SendAsync(output.GetBuffer().AsMemory(0, (int)output.Length), stop);
                        output.SetLength(0);
                    }

                    if (start > 0)
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        end -= start;
                        start = 0;
                    }

                    if (end == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    var read = await socket.ReceiveAsync(buffer.AsMemory(end), stop);
                    if (read == 0)
                    {
                        return;
                    }

                    end += read;
                }
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away, or the sink is stopping.
            }
        }
    }
}
