using System.Buffers;
using System.Net;
using Herald.Bounces;
using Herald.Cli.Sink;
using Herald.Store;
using SmtpServer;
using SmtpServer.Mail;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace Herald.Cli.Bounces;

/// <summary>
/// The inbound SMTP receiver of <c>herald bounces listen</c>: accepts mail only for the bounce domains (anything else is
/// refused at RCPT, so it is never an open relay), and answers 250 to a message only after it is processed in the
/// store or written to the quarantine folder: a bounce it accepted is never lost. A store failure answers 451, so the
/// sending MTA keeps the bounce and retries (processing is idempotent).
/// </summary>
internal sealed class BounceReceiver : IAsyncDisposable
{
    private readonly SmtpServerHost _server;
    private readonly CancellationTokenSource _stop;
    private readonly Task _running;

    private BounceReceiver(SmtpServerHost server, CancellationTokenSource stop, Task running, IPEndPoint endPoint, BounceReceiverCounters counters)
    {
        _server = server;
        _stop = stop;
        _running = running;
        EndPoint = endPoint;
        Counters = counters;
    }

    public IPEndPoint EndPoint { get; }

    public BounceReceiverCounters Counters { get; }

    public static async Task<BounceReceiver> StartAsync(BounceReceiverOptions options, BounceProcessor processor, IBounceStore store, BounceQuarantine quarantine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var counters = new BounceReceiverCounters();
        var domains = new BounceDomains(options.Domains, store, options.DomainRefresh);
        var serverOptions = new SmtpServerOptionsBuilder()
            .ServerName("herald-bounces")
            // SessionTimeout is an absolute deadline for a whole connection in SmtpServer; idle clients are dropped by
            // the per-command wait instead, so a relay that keeps its connection for many bounces is not cut off.
            .Endpoint(e => e.Endpoint(new IPEndPoint(options.Address, options.Port)).SessionTimeout(Timeout.InfiniteTimeSpan))
            .CommandWaitTimeout(options.CommandTimeout)
            .MaxMessageSize(options.MaxMessageBytes, MaxMessageSizeHandling.Strict)
            .Build();
        var listener = new NoDelayListenerFactory(options.MaxConnections);
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(listener);
        services.Add(new Filter(domains, counters));
        services.Add(new Store(processor, quarantine, counters, options.MaxMessageBytes));

        var server = new SmtpServerHost(serverOptions, services);
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = Task.Run(() => server.StartAsync(stop.Token), CancellationToken.None);
        var first = await Task.WhenAny(listener.Bound, running).ConfigureAwait(false);
        if (first != listener.Bound || !listener.Bound.IsCompletedSuccessfully)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            stop.Dispose();
            await first.ConfigureAwait(false);
            throw new InvalidOperationException("The bounce receiver stopped before it started listening.");
        }

        return new BounceReceiver(server, stop, running, await listener.Bound.ConfigureAwait(false), counters);
    }

    public async ValueTask DisposeAsync()
    {
        // Cancelling stops the listener and makes every open session reply 421 and close; a message being processed
        // gets no 250, so its sender keeps it and retries.
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
    }

    /// <summary>RCPT: only the bounce domains. Any sender is accepted (bounces come from the null sender).</summary>
    private sealed class Filter(BounceDomains domains, BounceReceiverCounters counters) : IMailboxFilter
    {
        private static readonly SmtpResponse Refused = new(SmtpReplyCode.MailboxUnavailable, "5.7.1 Relaying denied: this server only accepts mail for its bounce domains");

        public Task<bool> CanAcceptFromAsync(ISessionContext context, IMailbox from, int size, CancellationToken cancellationToken) => Task.FromResult(true);

        public async Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken)
        {
            if (to.Host is { Length: > 0 } host && await domains.AcceptsAsync(host, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            counters.Refused();
            throw new SmtpResponseException(Refused);
        }
    }

    /// <summary>DATA: processed in the store (or quarantined) before the reply.</summary>
    private sealed class Store(BounceProcessor processor, BounceQuarantine quarantine, BounceReceiverCounters counters, int maxBytes) : MessageStore
    {
        private static readonly SmtpResponse TryLater = new(SmtpReplyCode.Aborted, "4.3.0 Cannot store the report right now; try again later");
        private static readonly SmtpResponse TooLarge = new(SmtpReplyCode.SizeLimitExceeded, "5.3.4 Message too big for a bounce");

        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            if (buffer.Length > maxBytes)
            {
                return TooLarge;
            }

            var raw = buffer.ToArray();
            var envelope = new BounceEnvelope(
                transaction.From is { } from && !string.IsNullOrEmpty(from.User) ? from.AsAddress() : null,
                [.. transaction.To.Select(t => t.AsAddress())]);
            try
            {
                var outcome = await processor.ProcessAsync(raw, envelope, cancellationToken).ConfigureAwait(false);
                if (outcome.Disposition == BounceDisposition.Quarantine)
                {
                    var path = quarantine.Keep(raw, outcome.Reason);
                    counters.Quarantined(path, outcome.Reason);
                    return new SmtpResponse(SmtpReplyCode.Ok, "2.0.0 Ok: kept for review");
                }

                counters.Processed(outcome);
                return new SmtpResponse(SmtpReplyCode.Ok, outcome.Disposition == BounceDisposition.Recorded ? "2.0.0 Ok: recorded" : "2.0.0 Ok: ignored");
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Never a 5xx for our own trouble (store down, disk full, shutting down): a 5xx to a bounce makes the
                // sending MTA drop it for good; a 4xx makes it keep the bounce and retry.
                counters.Deferred(ex is OperationCanceledException ? "stopping" : ex.Message);
                return TryLater;
            }
        }
    }
}
