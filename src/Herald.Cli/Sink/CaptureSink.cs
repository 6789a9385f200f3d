using System.Buffers;
using System.Net;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace Herald.Cli.Sink;

/// <summary>
/// An SMTP server that accepts every message: for looking at a campaign locally, for the demo and for tests.
/// Built on SmtpServer with its two throughput traps removed (absolute session timeout, Nagle on replies).
/// </summary>
internal sealed class CaptureSink : IAsyncDisposable
{
    private readonly SmtpServerHost _server;
    private readonly CancellationTokenSource _stop;
    private readonly Task _running;
    private readonly SinkStore _store;

    private CaptureSink(SmtpServerHost server, CancellationTokenSource stop, Task running, SinkStore store, IPEndPoint endPoint)
    {
        _server = server;
        _stop = stop;
        _running = running;
        _store = store;
        EndPoint = endPoint;
    }

    /// <summary>The endpoint actually bound (useful with port 0).</summary>
    public IPEndPoint EndPoint { get; }

    public int Port => EndPoint.Port;

    /// <summary>Messages accepted so far (the 250 reply to their final dot is being or has been sent).</summary>
    public long Count => _store.Count;

    /// <summary>Completes once at least <paramref name="count"/> messages have been accepted.</summary>
    public Task WaitForCountAsync(long count, CancellationToken cancellationToken) =>
        _store.WaitForCountAsync(count, cancellationToken);

    public static async Task<CaptureSink> StartAsync(CaptureSinkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.OutDir is not null)
        {
            Directory.CreateDirectory(options.OutDir);
        }

        var store = new SinkStore(options);
        try
        {
            var serverOptions = new SmtpServerOptionsBuilder()
                .ServerName("herald-sink")
                // SessionTimeout is an absolute deadline for the whole connection in SmtpServer; a relay
                // connection reused for hours must not get a 554 mid-campaign. Idle clients are still
                // dropped by the per-command wait below.
                .Endpoint(e => e.Endpoint(new IPEndPoint(options.Address, options.Port)).SessionTimeout(Timeout.InfiniteTimeSpan))
                .CommandWaitTimeout(TimeSpan.FromMinutes(5))
                .Build();

            var listenerFactory = new NoDelayListenerFactory();
            var services = new SmtpServer.ComponentModel.ServiceProvider();
            services.Add(listenerFactory);
            services.Add(store);

            var server = new SmtpServerHost(serverOptions, services);
            var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var running = Task.Run(() => server.StartAsync(stop.Token), CancellationToken.None);

            // Either the socket is bound, or the server failed first (port in use, ...): surface that error.
            var first = await Task.WhenAny(listenerFactory.Bound, running).ConfigureAwait(false);
            if (first != listenerFactory.Bound || !listenerFactory.Bound.IsCompletedSuccessfully)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                stop.Dispose();
                await first.ConfigureAwait(false);
                throw new InvalidOperationException("The capture sink stopped before it started listening.");
            }

            return new CaptureSink(server, stop, running, store, await listenerFactory.Bound.ConfigureAwait(false));
        }
        catch
        {
            store.CloseLog();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Cancelling stops the listener and makes every open session reply 421 and close.
        await _stop.CancelAsync().ConfigureAwait(false);
        _server.Shutdown();
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _store.CloseLog();
    }
}
