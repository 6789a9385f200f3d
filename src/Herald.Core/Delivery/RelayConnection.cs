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

    private readonly Action<char, string>? _log;

    public RelayConnection(RelayOptions relay, DeliveryOptions delivery, string localDomain, Dkim.DkimSigner? dkim = null, ISmtpTranscript? transcript = null, int number = 1)
    {
        _dkim = dkim;
        _relay = relay;
        _delivery = delivery;
        _localDomain = localDomain;
        if (transcript is not null)
        {
            var name = relay.Name;
            _log = (direction, line) => transcript.Write(name, number, direction, line);
        }

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

    /// <summary>
    /// Connects, greets, secures and authenticates. Throws <see cref="RelayConnectException"/> naming the reason (socket
    /// error, TLS, the relay's reply) on any failure; nothing was sent. <see cref="OperationCanceledException"/> only
    /// when <paramref name="cancellationToken"/> fired.
    /// </summary>
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
                throw new RelayConnectException($"the environment variables {_relay.UsernameEnv}/{_relay.PasswordEnv} holding its credentials are not set", senderSide: true);
            }

            credentials = (user, password);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_delivery.ConnectTimeout);
        // Our own socket so TCP_NODELAY is set: without it each pipelined exchange waits on delayed ACKs.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _log?.Invoke('*', $"connecting to {_relay.Url.Host}:{_relay.Url.Port}");
        try
        {
            await socket.ConnectAsync(_relay.Url.Host, _relay.Url.Port, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
            var reason = ex is SocketException socketError ? Describe(socketError) : $"connection timed out after {Durations.Format(_delivery.ConnectTimeout)}";
            _log?.Invoke('*', reason);
            throw new RelayConnectException(reason, senderSide: false, null, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        try
        {
            _session = await SmtpSession.OpenAsync(socket, _relay.Url.Host, _localDomain, _relay.Url.Scheme == "smtps", _relay.StartTls,
                _relay.InsecureSkipVerify, credentials, timeout.Token, _log).ConfigureAwait(false);
        }
        catch (RelayConnectException ex)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _log?.Invoke('*', ex.Message);
            throw;
        }
    }

    /// <summary>Socket errors in the words an operator expects (<c>connection refused</c>), not the OS's sentence.</summary>
    internal static string Describe(SocketException error) => error.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.TimedOut => "connection timed out",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
        SocketError.HostUnreachable => "host unreachable",
        SocketError.NetworkUnreachable or SocketError.NetworkDown => "network unreachable",
        SocketError.ConnectionReset => "connection reset",
        SocketError.AddressNotAvailable => "address not available",
        _ => $"connection failed: {error.Message}",
    };

    /// <summary>The relay offers SMTPUTF8 (known once connected).</summary>
    public bool SmtpUtf8 => _session?.SmtpUtf8 ?? false;

    /// <summary>
    /// Why this connection cannot carry <paramref name="address"/> (a non-ASCII local part needs SMTPUTF8, which this
    /// relay does not offer; a domain with no A-label), or null when it can.
    /// </summary>
    public string? CannotCarry(string address)
    {
        if (!Envelope.TryWireForm(address, out _, out var needsUtf8))
        {
            return "the domain is not a valid international domain name";
        }

        return needsUtf8 && !SmtpUtf8
            ? $"the local part is not ASCII and relay {_relay.Name} does not offer SMTPUTF8"
            : null;
    }

    /// <summary>
    /// Sends one message to one recipient (one transaction, so the reply maps to exactly this recipient) and
    /// classifies what happened. Never throws for SMTP or network failures.
    /// </summary>
    public async Task<AttemptResult> SendAsync(MimeMessage message, MailboxAddress sender, MailboxAddress recipient)
    {
        var session = _session ?? throw new InvalidOperationException("Not connected.");
        if (!Envelope.TryWireForm(sender.Address, out var from, out var senderUtf8) || !Envelope.TryWireForm(recipient.Address, out var to, out var recipientUtf8))
        {
            return new AttemptResult(AttemptKind.Rejected, null, "address with a domain that has no A-label", false);
        }

        var smtpUtf8 = (senderUtf8 || recipientUtf8) && session.SmtpUtf8;
        var chunked = _relay.Chunking && session.Chunking;
        using var wire = WireMessage.Create(message, _dkim, dotStuff: !chunked, international: smtpUtf8);
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
            var result = await session.SendAsync(from, to, wire.Bytes, chunked, smtpUtf8, timeout.Token).ConfigureAwait(false);
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
