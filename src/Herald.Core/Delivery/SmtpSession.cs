using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;

namespace Herald.Delivery;

/// <summary>A reply that ended a step of the SMTP dialogue.</summary>
internal sealed class SmtpReplyException(int code, string text) : Exception(text)
{
    public int Code { get; } = code;
}

/// <summary>
/// The SMTP client side of one relay connection, written for the send loop: one pipelined write for
/// MAIL/RCPT/DATA (or MAIL/RCPT/BDAT), the message in one write of bytes that are already dot-stuffed (DATA) or
/// raw (BDAT), replies parsed without strings unless kept. The phase is exact: <see cref="FinalDotWritten"/> is set
/// when the write that ends the message (the final dot, or <c>BDAT 0 LAST</c>) completed, so a failure after it is
/// in doubt and one before it is safe to retry.
/// Measured against MailKit's SmtpClient (which filters every byte through its dot-stuffing filter and copies the
/// message in 4 kB writes), see docs/PERFORMANCE.md.
/// </summary>
internal sealed partial class SmtpSession : IAsyncDisposable
{
    private readonly Socket _socket;
    private Stream _stream;
    private readonly byte[] _input = new byte[16 * 1024];
    private int _start;
    private int _end;
    private readonly byte[] _command = new byte[2048];
    private bool _broken;
    private readonly Action<char, string>? _log;

    private SmtpSession(Socket socket, Action<char, string>? log)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _log = log;
    }

    public bool Pipelining { get; private set; }

    /// <summary>The relay offers CHUNKING (RFC 3030): BDAT may replace DATA.</summary>
    public bool Chunking { get; private set; }

    /// <summary>The relay offers SMTPUTF8 (RFC 6531): a non-ASCII local part can travel.</summary>
    public bool SmtpUtf8 { get; private set; }

    /// <summary>The connection is encrypted (implicit TLS or STARTTLS).</summary>
    public bool IsSecure => _stream is SslStream;

    public bool IsConnected => !_broken && _socket.Connected;

    /// <summary>True once the write that ends the current message (final dot, or <c>BDAT 0 LAST</c>) completed.</summary>
    public bool FinalDotWritten { get; private set; }

    /// <summary>Called when the end of the message reached the socket (to switch to the final-reply timeout).</summary>
    public Action? OnFinalDot { get; set; }

    /// <summary>
    /// Greets, secures (STARTTLS or implicit TLS) and authenticates. Throws <see cref="RelayConnectException"/> with the
    /// reason on any failure; nothing was sent. Credentials are only ever sent over TLS, unless
    /// <paramref name="startTls"/> is <see cref="Campaigns.StartTlsMode.None"/> (the operator's explicit choice).
    /// </summary>
    public static async Task<SmtpSession> OpenAsync(Socket connected, string host, string localDomain, bool implicitTls, Campaigns.StartTlsMode startTls,
        bool insecureSkipVerify, (string User, string Password)? credentials, CancellationToken cancellationToken, Action<char, string>? log = null)
    {
        var session = new SmtpSession(connected, log);
        var step = "greeting";
        try
        {
            if (implicitTls)
            {
                step = "TLS handshake";
                await session.UpgradeAsync(host, insecureSkipVerify, cancellationToken).ConfigureAwait(false);
                step = "greeting";
            }

            await session.ExpectAsync(220, cancellationToken).ConfigureAwait(false);
            step = "EHLO";
            var capabilities = await session.EhloAsync(localDomain, cancellationToken).ConfigureAwait(false);
            if (!implicitTls && startTls != Campaigns.StartTlsMode.None)
            {
                if (capabilities.Contains("STARTTLS"))
                {
                    step = "STARTTLS";
                    await session.CommandAsync("STARTTLS\r\n"u8.ToArray(), 220, cancellationToken).ConfigureAwait(false);
                    step = "TLS handshake";
                    await session.UpgradeAsync(host, insecureSkipVerify, cancellationToken).ConfigureAwait(false);
                    step = "EHLO";
                    capabilities = await session.EhloAsync(localDomain, cancellationToken).ConfigureAwait(false);
                }
                else if (startTls == Campaigns.StartTlsMode.Required)
                {
                    throw new RelayConnectException("the relay does not offer STARTTLS, which this relay requires (starttls: required)", senderSide: true);
                }
            }

            session.Pipelining = capabilities.Contains("PIPELINING");
            session.Chunking = capabilities.Contains("CHUNKING");
            session.SmtpUtf8 = capabilities.Contains("SMTPUTF8");
            if (credentials is { } auth)
            {
                if (!session.IsSecure && startTls != Campaigns.StartTlsMode.None)
                {
                    // Today's relays all offer TLS; a plain-text AUTH would hand the password to anyone on the path.
                    throw new RelayConnectException(
                        "AUTH not sent: the connection is not encrypted (the relay offers no STARTTLS); use smtps://, or set starttls: none on this relay to allow AUTH in clear text",
                        senderSide: true);
                }

                step = "AUTH";
                await session.AuthenticateAsync(capabilities, auth.User, auth.Password, cancellationToken).ConfigureAwait(false);
            }

            return session;
        }
        catch (Exception ex)
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw ex switch
            {
                RelayConnectException => ex,
                SmtpReplyException reply => new RelayConnectException(
                    reply.Code == 0 ? $"{step}: {reply.Message}" : reply.Message,
                    // A permanent refusal of the greeting, EHLO or AUTH is about us (our address, name or credentials).
                    senderSide: reply.Code is >= 500 and < 600,
                    reply.Code is 0 ? null : reply.Code,
                    reply),
                AuthenticationException when step == "TLS handshake" => new RelayConnectException($"TLS handshake failed: {ex.Message}", senderSide: false, null, ex),
                IOException or SocketException when step == "TLS handshake" => new RelayConnectException($"TLS handshake failed: {ex.Message}", senderSide: false, null, ex),
                AuthenticationException => new RelayConnectException(ex.Message, senderSide: true, null, ex),
                IOException or SocketException or ObjectDisposedException => new RelayConnectException($"connection lost during the {step}: {ex.Message}", senderSide: false, null, ex),
                // The caller tells a stop from its connect timeout; to it this is the timeout.
                OperationCanceledException => new RelayConnectException($"no reply to the {step} in time", senderSide: false, null, ex),
                _ => ex,
            };
        }
    }

    /// <summary>Says goodbye if the connection is usable, then closes it.</summary>
    public async Task QuitAsync(CancellationToken cancellationToken)
    {
        if (!IsConnected)
        {
            return;
        }

        try
        {
            await WriteCommandAsync("QUIT\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            // Closing anyway.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _broken = true;
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private string _lastText = "";

    private async Task UpgradeAsync(string host, bool insecureSkipVerify, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            CertificateRevocationCheckMode = insecureSkipVerify ? System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck : System.Security.Cryptography.X509Certificates.X509RevocationMode.Online,
        };
        if (insecureSkipVerify)
        {
            options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }

        await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
        _stream = ssl;
        _start = _end = 0;
        _log?.Invoke('*', $"TLS established ({ssl.SslProtocol}, {ssl.NegotiatedCipherSuite})");
    }

    private async Task<HashSet<string>> EhloAsync(string localDomain, CancellationToken cancellationToken)
    {
        var length = Put(0, "EHLO "u8);
        length += PutAscii(length, localDomain);
        length += Put(length, "\r\n"u8);
        await WriteCommandAsync(_command.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        var lines = new List<string>();
        var (code, _) = await ReadReplyAsync(cancellationToken, lines).ConfigureAwait(false);
        if (code != 250)
        {
            throw new SmtpReplyException(code, $"{code} {_lastText}".Trim());
        }

        var capabilities = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
            {
                continue;
            }

            capabilities.Add(words[0].ToUpperInvariant());
            if (words[0].Equals("AUTH", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var mechanism in words.Skip(1))
                {
                    capabilities.Add("AUTH=" + mechanism.ToUpperInvariant());
                }
            }
        }

        return capabilities;
    }

    private async Task AuthenticateAsync(HashSet<string> capabilities, string user, string password, CancellationToken cancellationToken)
    {
        if (capabilities.Contains("AUTH=PLAIN"))
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"\0{user}\0{password}"));
            await CommandAsync(Encoding.ASCII.GetBytes($"AUTH PLAIN {token}\r\n"), 235, cancellationToken, redacted: "AUTH PLAIN ***").ConfigureAwait(false);
        }
        else if (capabilities.Contains("AUTH=LOGIN"))
        {
            await CommandAsync("AUTH LOGIN\r\n"u8.ToArray(), 334, cancellationToken).ConfigureAwait(false);
            await CommandAsync(Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(user)) + "\r\n"), 334, cancellationToken, redacted: "***").ConfigureAwait(false);
            await CommandAsync(Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(password)) + "\r\n"), 235, cancellationToken, redacted: "***").ConfigureAwait(false);
        }
        else
        {
            throw new RelayConnectException("the relay offers neither AUTH PLAIN nor AUTH LOGIN", senderSide: true);
        }
    }

    private async Task CommandAsync(ReadOnlyMemory<byte> command, int expected, CancellationToken cancellationToken, string? redacted = null)
    {
        await WriteCommandAsync(command, cancellationToken, redacted).ConfigureAwait(false);
        await ExpectAsync(expected, cancellationToken).ConfigureAwait(false);
    }

    private async Task ExpectAsync(int expected, CancellationToken cancellationToken)
    {
        var code = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
        if (code != expected)
        {
            // Credentials never appear here: only the server's reply is quoted.
            throw new SmtpReplyException(code, $"{code} {_lastText}".Trim());
        }
    }

    /// <summary>Writes command lines; the transcript gets them (or <paramref name="redacted"/> in their place).</summary>
    private ValueTask WriteCommandAsync(ReadOnlyMemory<byte> commands, CancellationToken cancellationToken, string? redacted = null)
    {
        if (_log is { } log)
        {
            if (redacted is not null)
            {
                log('>', redacted);
            }
            else
            {
                foreach (var line in Encoding.UTF8.GetString(commands.Span).Split("\r\n", StringSplitOptions.RemoveEmptyEntries))
                {
                    log('>', line);
                }
            }
        }

        return _stream.WriteAsync(commands, cancellationToken);
    }

    private async Task<int> ReadCodeAsync(CancellationToken cancellationToken)
    {
        var (code, _) = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
        return code;
    }

    /// <summary>Reads one (possibly multi-line) reply; its text is kept in <see cref="_lastText"/>.</summary>
    private async Task<(int Code, string Text)> ReadReplyAsync(CancellationToken cancellationToken, List<string>? lines = null, bool keepText = true)
    {
        var text = new StringBuilder();
        while (true)
        {
            var newline = _input.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline < 0)
            {
                if (_start > 0)
                {
                    _input.AsSpan(_start, _end - _start).CopyTo(_input);
                    _end -= _start;
                    _start = 0;
                }

                if (_end == _input.Length)
                {
                    throw new SmtpReplyException(0, "reply line too long");
                }

                var read = await _stream.ReadAsync(_input.AsMemory(_end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException("the relay closed the connection");
                }

                _end += read;
                continue;
            }

            var line = _input.AsSpan(_start, newline);
            _start += newline + 1;
            if (line.Length > 0 && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            _log?.Invoke('<', Encoding.UTF8.GetString(line));
            if (line.Length < 3 || !char.IsAsciiDigit((char)line[0]) || !char.IsAsciiDigit((char)line[1]) || !char.IsAsciiDigit((char)line[2]))
            {
                throw new SmtpReplyException(0, $"malformed reply: {Encoding.ASCII.GetString(line)}");
            }

            var code = ((line[0] - '0') * 100) + ((line[1] - '0') * 10) + (line[2] - '0');
            var last = line.Length == 3 || line[3] != (byte)'-';
            var content = line.Length > 4 ? line[4..] : [];
            lines?.Add(Encoding.ASCII.GetString(content));
            if (keepText)
            {
                if (text.Length > 0)
                {
                    text.Append(' ');
                }

                text.Append(Encoding.ASCII.GetString(content));
            }

            if (last)
            {
                _lastText = text.ToString();
                return (code, _lastText);
            }
        }
    }

    private int Put(int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_command.AsSpan(at));
        return bytes.Length;
    }

    // Addresses were validated and normalized in prepare; still refuse anything that could inject a command.
    private static bool IsSafeAddress(string value) => value.AsSpan().IndexOfAny("\r\n<>") < 0 && value.Length <= 600;

    private int PutAscii(int at, string value) => Encoding.UTF8.GetBytes(value, _command.AsSpan(at));
}
