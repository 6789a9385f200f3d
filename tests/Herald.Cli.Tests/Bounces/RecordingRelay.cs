using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using SmtpServer;
using SmtpServer.Mail;
using SmtpServer.Protocol;
using SmtpServer.Storage;
using SmtpServerHost = SmtpServer.SmtpServer;

namespace Herald.Cli.Tests.Bounces;

/// <summary>
/// A relay for tests: records each accepted message's envelope (MAIL FROM per recipient) and refuses the recipients
/// <see cref="Refuse"/> names at RCPT with the reply it gives (a synchronous bounce).
/// </summary>
internal sealed class RecordingRelay : IAsyncDisposable
{
    private readonly SmtpServerHost _server;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;

    private RecordingRelay(Func<string, string?> refuse, TimeSpan delay)
    {
        var listener = new Herald.Cli.Sink.NoDelayListenerFactory();
        var options = new SmtpServerOptionsBuilder().ServerName("relay")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, 0)).SessionTimeout(Timeout.InfiniteTimeSpan)).Build();
        var services = new SmtpServer.ComponentModel.ServiceProvider();
        services.Add(listener);
        services.Add(new Filter(refuse));
        services.Add(new Store(this, delay));
        _server = new SmtpServerHost(options, services);
        _running = Task.Run(() => _server.StartAsync(_stop.Token));
        Port = listener.Bound.WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult().Port;
    }

    public int Port { get; }

    /// <summary>Recipient → the MAIL FROM of the message it was sent with.</summary>
    public ConcurrentDictionary<string, string> Senders { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int Accepted => Senders.Count;

    /// <summary>The reply to this message (1-based) waits until <see cref="Release"/>: the test acts while the sender waits.</summary>
    public int HoldAt { get; init; }

    /// <summary>Completes when the message at <see cref="HoldAt"/> arrived and is being held.</summary>
    public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int _received;

    public static RecordingRelay Start(Func<string, string?>? refuse = null, TimeSpan delay = default, int holdAt = 0) => new(refuse ?? (_ => null), delay) { HoldAt = holdAt };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _server.Shutdown();
        try
        {
            await _running;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private sealed class Filter(Func<string, string?> refuse) : IMailboxFilter
    {
        public Task<bool> CanAcceptFromAsync(ISessionContext context, IMailbox from, int size, CancellationToken cancellationToken) => Task.FromResult(true);

        public Task<bool> CanDeliverToAsync(ISessionContext context, IMailbox to, IMailbox from, CancellationToken cancellationToken) =>
            refuse(to.AsAddress()) is { } reply
                ? throw new SmtpResponseException(new SmtpResponse(SmtpReplyCode.MailboxUnavailable, reply))
                : Task.FromResult(true);
    }

    private sealed class Store(RecordingRelay relay, TimeSpan delay) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, cancellationToken);
            }

            if (Interlocked.Increment(ref relay._received) == relay.HoldAt)
            {
                relay.Holding.TrySetResult();
                await relay.Release.Task.WaitAsync(TimeSpan.FromSeconds(120), cancellationToken);
            }

            foreach (var to in transaction.To)
            {
                relay.Senders[to.AsAddress()] = transaction.From.AsAddress();
            }

            return SmtpResponse.Ok;
        }
    }
}
