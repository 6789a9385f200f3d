using System.Net.Sockets;
using Herald.Campaigns;
using MimeKit;

namespace Herald.Delivery;

/// <summary>One reusable SMTP connection to one relay; not thread-safe (one transaction at a time).</summary>
internal sealed class RelayConnection : IAsyncDisposable
{
    private readonly RelayOptions _relay;
    private readonly DeliveryOptions _delivery;
    private readonly string _localDomain;
    private readonly Dkim.DkimSigner? _dkim;
    private SmtpSession? _session;
    private Action? _switchToFinalReply;
    // Timeouts of a transaction: a deadline checked by a per-connection watchdog that cancels _timeout when it passes.
    // Creating a timer per message, then re-arming one (CancelAfter) twice per message, each showed up at 4-7% of the
    // CPU of the send loop (timer queue work); writing a number per step costs nothing.
    private CancellationTokenSource _timeout = new();
    private long _deadline;
    private readonly Timer _watchdog;

    public RelayConnection(RelayOptions relay, DeliveryOptions delivery, string localDomain, Dkim.DkimSigner? dkim = null)
    {
        _dkim = dkim;
        _relay = relay;
        _delivery = delivery;
        _localDomain = localDomain;
        var shortest = Math.Min(delivery.CommandTimeout.TotalMilliseconds, delivery.FinalReplyTimeout.TotalMilliseconds);
        var period = TimeSpan.FromMilliseconds(Math.Clamp(shortest / 8, 5, 1000));
        _watchdog = new Timer(static state => ((RelayConnection)state!).CheckDeadline(), this, period, period);
    }

    private void CheckDeadline()
    {
        var deadline = Volatile.Read(ref _deadline);
        if (deadline != 0 && Environment.TickCount64 >= deadline)
        {
            try
            {
                _timeout.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The connection was disposed meanwhile.
            }
        }
    }

    public bool IsConnected => _session is { IsConnected: true };

    /// <summary>Connects, greets, secures and authenticates. Throws on any failure; nothing was sent.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await DisconnectAsync().ConfigureAwait(false);
        (string, string)? credentials = null;
        if (_relay.UsernameEnv is not null)
        {
            var user = Environment.GetEnvironmentVariable(_relay.UsernameEnv);
            var password = _relay.PasswordEnv is null ? null : Environment.GetEnvironmentVariable(_relay.PasswordEnv);
            if (string.IsNullOrEmpty(user) || password is null)
            {
                throw new HeraldException($"relay {_relay.Name}: the environment variables {_relay.UsernameEnv}/{_relay.PasswordEnv} holding its credentials are not set.");
            }

            credentials = (user, password);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_delivery.ConnectTimeout);
        // Our own socket so TCP_NODELAY is set: without it each pipelined exchange waits on delayed ACKs.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_relay.Url.Host, _relay.Url.Port, timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _session = await SmtpSession.OpenAsync(socket, _relay.Url.Host, _localDomain, _relay.Url.Scheme == "smtps", _relay.StartTls,
            _relay.InsecureSkipVerify, credentials, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends one message to one recipient (one transaction, so the reply maps to exactly this recipient) and
    /// classifies what happened. Never throws for SMTP or network failures.
    /// </summary>
    public async Task<AttemptResult> SendAsync(MimeMessage message, MailboxAddress sender, MailboxAddress recipient)
    {
        var session = _session ?? throw new InvalidOperationException("Not connected.");
        using var wire = WireMessage.Create(message, _dkim);
        // Deliberately not the stop token: a transaction in flight finishes (or times out) after Ctrl-C.
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource();
        }

        var timeout = _timeout;
        Volatile.Write(ref _deadline, Environment.TickCount64 + (long)_delivery.CommandTimeout.TotalMilliseconds);
        session.OnFinalDot = _switchToFinalReply ??= () => Volatile.Write(ref _deadline, Environment.TickCount64 + (long)_delivery.FinalReplyTimeout.TotalMilliseconds);
        try
        {
            var result = await session.SendAsync(sender.Address, recipient.Address, wire.Bytes, timeout.Token).ConfigureAwait(false);
            if (result.ConnectionBroken || !session.IsConnected)
            {
                await DisconnectAsync().ConfigureAwait(false);
                return result with { ConnectionBroken = true };
            }

            return result;
        }
        finally
        {
            Volatile.Write(ref _deadline, 0);
        }
    }

    public async Task DisconnectAsync()
    {
        var session = _session;
        _session = null;
        if (session is null)
        {
            return;
        }

        try
        {
            using var quit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await session.QuitAsync(quit.Token).ConfigureAwait(false);
        }
        finally
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _watchdog.DisposeAsync().ConfigureAwait(false);
        await DisconnectAsync().ConfigureAwait(false);
        _timeout.Dispose();
    }
}
