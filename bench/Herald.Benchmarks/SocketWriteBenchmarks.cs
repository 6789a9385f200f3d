using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;

namespace Herald.Benchmarks;

/// <summary>
/// Putting one 53 kB email on a loopback TCP connection (NoDelay, a reader draining the other end): one write of the
/// whole buffer against 4 kB writes, the size MailKit's SMTP stream flushes in.
/// </summary>
public class SocketWriteBenchmarks
{
    private const int MessageBytes = 53_600;
    private readonly byte[] _message = new byte[MessageBytes];
    private TcpListener? _listener;
    private Socket? _client;
    private NetworkStream? _stream;
    private Task? _drain;
    private CancellationTokenSource? _stop;

    [Params(4096, MessageBytes)]
    public int WriteSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Array.Fill(_message, (byte)'x');
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect((IPEndPoint)_listener.LocalEndpoint);
        var server = _listener.AcceptSocket();
        _stop = new CancellationTokenSource();
        _drain = Task.Run(async () =>
        {
            var buffer = new byte[256 * 1024];
            try
            {
                while (await server.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
                {
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                server.Dispose();
            }
        });
        _stream = new NetworkStream(_client, ownsSocket: false);
    }

    [Benchmark]
    public async Task WriteOneEmail()
    {
        for (var offset = 0; offset < MessageBytes; offset += WriteSize)
        {
            await _stream!.WriteAsync(_message.AsMemory(offset, Math.Min(WriteSize, MessageBytes - offset))).ConfigureAwait(false);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop?.Cancel();
        _client?.Shutdown(SocketShutdown.Both);
        _drain?.Wait(TimeSpan.FromSeconds(5));
        _stream?.Dispose();
        _client?.Dispose();
        _listener?.Stop();
        _stop?.Dispose();
    }
}
