using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using SmtpServer;
using SmtpServer.IO;
using SmtpServer.Net;

namespace Herald.Cli.Sink;

/// <summary>
/// Replaces SmtpServer's listener: its default one leaves Nagle on, so a reply written right after another
/// waits for the client's delayed ACK (~40 ms) and one connection tops out near 23 messages/s. It also
/// reports the bound endpoint, which the stock factory only exposes through an event, and can bound the number of
/// open sessions (a connection past the bound waits in the listen backlog until one closes).
/// </summary>
internal sealed class NoDelayListenerFactory(int maxConnections = int.MaxValue) : IEndpointListenerFactory
{
    private readonly TaskCompletionSource<IPEndPoint> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim? _slots = maxConnections == int.MaxValue ? null : new SemaphoreSlim(maxConnections, maxConnections);

    /// <summary>Completes once the socket is listening, with the actual endpoint (port 0 resolved).</summary>
    public Task<IPEndPoint> Bound => _bound.Task;

    public IEndpointListener CreateListener(IEndpointDefinition endpointDefinition)
    {
        var socket = new Socket(endpointDefinition.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(endpointDefinition.Endpoint);
            socket.Listen(512);
        }
        catch (Exception ex)
        {
            socket.Dispose();
            _bound.TrySetException(ex);
            throw;
        }

        var local = (IPEndPoint)socket.LocalEndPoint!;
        _bound.TrySetResult(local);
        return new Listener(socket, local, _slots);
    }

    private sealed class Listener(Socket socket, IPEndPoint local, SemaphoreSlim? slots) : IEndpointListener
    {
        public async Task<ISecurableDuplexPipe> GetPipeAsync(ISessionContext context, CancellationToken cancellationToken)
        {
            if (slots is not null)
            {
                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            Socket client;
            try
            {
                client = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                slots?.Release();
                throw;
            }

            client.NoDelay = true;
            context.Properties[EndpointListener.LocalEndPointKey] = local;
            context.Properties[EndpointListener.RemoteEndPointKey] = client.RemoteEndPoint!;
            return new SocketPipe(new NetworkStream(client, ownsSocket: true), slots);
        }

        public void Dispose() => socket.Dispose();
    }

    /// <summary>A plain-TCP duplex pipe; the sink offers no TLS (SmtpServer's own pipe type is internal).</summary>
    private sealed class SocketPipe : ISecurableDuplexPipe
    {
        // Larger reads than the 4 kB default: a 50 kB message then arrives in a few segments, so the
        // dot-block search and the segment list behind it stay short.
        private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 65536, minimumReadSize: 16384);
        private readonly NetworkStream _stream;
        private readonly SemaphoreSlim? _slots;
        private int _disposed;

        public SocketPipe(NetworkStream stream, SemaphoreSlim? slots)
        {
            _stream = stream;
            _slots = slots;
            Input = PipeReader.Create(stream, ReaderOptions);
            Output = PipeWriter.Create(stream);
        }

        public PipeReader Input { get; }

        public PipeWriter Output { get; }

        public bool IsSecure => false;

        public SslProtocols SslProtocol => SslProtocols.None;

        public Task UpgradeAsync(X509Certificate certificate, SslProtocols protocols, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException("The capture sink does not offer TLS.");

        public void Dispose()
        {
            _stream.Dispose();
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _slots?.Release();
            }
        }
    }
}
