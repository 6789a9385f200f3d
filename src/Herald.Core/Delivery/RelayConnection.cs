using System.Net.Sockets;
using Herald.Campaigns;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace Herald.Delivery;

/// <summary>One reusable SMTP connection to one relay; not thread-safe (one transaction at a time).</summary>
internal sealed class RelayConnection : IAsyncDisposable
{
    private readonly RelayOptions _relay;
    private readonly DeliveryOptions _delivery;
    private readonly string _localDomain;
    private readonly PhaseTrackingLogger _phase = new();
    private HeraldSmtpClient? _client;
    // One timeout source per connection, reset between transactions: creating a timer per message showed up at ~7%
    // of the CPU in the send loop (timer queue work), reusing it does not.
    private CancellationTokenSource _timeout = new();

    public RelayConnection(RelayOptions relay, DeliveryOptions delivery, string localDomain)
    {
        _relay = relay;
        _delivery = delivery;
        _localDomain = localDomain;
    }

    public bool IsConnected => _client is { IsConnected: true };

    /// <summary>Connects, greets, secures and authenticates. Throws on any failure; nothing was sent.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await DisconnectAsync().ConfigureAwait(false);
        var client = new HeraldSmtpClient(_phase)
        {
            LocalDomain = _localDomain,
            Timeout = (int)Math.Min(int.MaxValue, Math.Max(_delivery.CommandTimeout.TotalMilliseconds, _delivery.FinalReplyTimeout.TotalMilliseconds) + 1000),
            CheckCertificateRevocation = !_relay.InsecureSkipVerify,
        };
        if (_relay.InsecureSkipVerify)
        {
            client.ServerCertificateValidationCallback = (_, _, _, _) => true;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_delivery.ConnectTimeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // MailKit never sets TCP_NODELAY; without it each pipelined exchange waits on delayed ACKs.
            await socket.ConnectAsync(_relay.Url.Host, _relay.Url.Port, timeout.Token).ConfigureAwait(false);
            var secure = _relay.Url.Scheme == "smtps"
                ? SecureSocketOptions.SslOnConnect
                : _relay.StartTls switch
                {
                    StartTlsMode.Required => SecureSocketOptions.StartTls,
                    StartTlsMode.None => SecureSocketOptions.None,
                    _ => SecureSocketOptions.StartTlsWhenAvailable,
                };
            await client.ConnectAsync(socket, _relay.Url.Host, _relay.Url.Port, secure, timeout.Token).ConfigureAwait(false);
            if (_relay.UsernameEnv is not null)
            {
                var user = Environment.GetEnvironmentVariable(_relay.UsernameEnv);
                var password = _relay.PasswordEnv is null ? null : Environment.GetEnvironmentVariable(_relay.PasswordEnv);
                if (string.IsNullOrEmpty(user) || password is null)
                {
                    throw new HeraldException($"relay {_relay.Name}: the environment variables {_relay.UsernameEnv}/{_relay.PasswordEnv} holding its credentials are not set.");
                }

                await client.AuthenticateAsync(user, password, timeout.Token).ConfigureAwait(false);
            }
        }
        catch
        {
            client.Dispose();
            socket.Dispose();
            throw;
        }

        _client = client;
    }

    /// <summary>
    /// Sends one message to one recipient (one transaction, so the reply maps to exactly this recipient) and
    /// classifies what happened. Never throws for SMTP or network failures.
    /// </summary>
    public async Task<AttemptResult> SendAsync(MimeMessage message, MailboxAddress sender, MailboxAddress recipient)
    {
        var client = _client ?? throw new InvalidOperationException("Not connected.");
        _phase.Reset();
        // Deliberately not the stop token: a transaction in flight finishes (or times out) after Ctrl-C.
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource();
        }

        var timeout = _timeout;
        timeout.CancelAfter(_delivery.CommandTimeout);
        _phase.FinalDotWritten = () => timeout.CancelAfter(_delivery.FinalReplyTimeout);
        try
        {
            var reply = await client.SendAsync(message, sender, [recipient], timeout.Token).ConfigureAwait(false);
            return new AttemptResult(AttemptKind.Delivered, 250, reply, false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var result = AttemptResult.Classify(ex, _phase.IsFinalDotWritten);
            if (result.ConnectionBroken || !client.IsConnected)
            {
                await DisconnectAsync().ConfigureAwait(false);
                return result with { ConnectionBroken = true };
            }

            return result;
        }
        finally
        {
            _phase.FinalDotWritten = null;
            timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    public async Task DisconnectAsync()
    {
        var client = _client;
        _client = null;
        if (client is null)
        {
            return;
        }

        try
        {
            if (client.IsConnected)
            {
                using var quit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await client.DisconnectAsync(true, quit.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or MailKit.ProtocolException or OperationCanceledException or SmtpCommandException or ServiceNotConnectedException)
        {
            // The connection is being dropped anyway.
        }
        finally
        {
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
        _timeout.Dispose();
    }

    private sealed class HeraldSmtpClient : SmtpClient
    {
        public HeraldSmtpClient(IProtocolLogger logger) : base(logger)
        {
        }

        // With SIZE offered MailKit serializes each message twice to measure it; SIZE is optional, so skip it.
        protected override Task<long> GetSizeAsync(FormatOptions options, MimeMessage message, CancellationToken cancellationToken) =>
            Task.FromResult(-1L);

        protected override long GetSize(FormatOptions options, MimeMessage message, CancellationToken cancellationToken) => -1;
    }
}
