using System.Buffers;
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
/// MAIL/RCPT/DATA, the message and its final dot in one write of bytes that are already dot-stuffed, replies parsed
/// without strings unless kept. The phase is exact: <see cref="FinalDotWritten"/> is set when the write that ends with
/// the final dot completed, so a failure after it is in doubt and one before it is safe to retry.
/// Measured against MailKit's SmtpClient (which filters every byte through its dot-stuffing filter and copies the
/// message in 4 kB writes), see docs/PERFORMANCE.md.
/// </summary>
internal sealed class SmtpSession : IAsyncDisposable
{
    private readonly Socket _socket;
    private Stream _stream;
    private readonly byte[] _input = new byte[16 * 1024];
    private int _start;
    private int _end;
    private readonly byte[] _command = new byte[2048];
    private bool _broken;

    private SmtpSession(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public bool Pipelining { get; private set; }

    public bool IsConnected => !_broken && _socket.Connected;

    /// <summary>True once the write ending with the final dot of the current transaction completed.</summary>
    public bool FinalDotWritten { get; private set; }

    /// <summary>Called when the final dot reached the socket (to switch to the final-reply timeout).</summary>
    public Action? OnFinalDot { get; set; }

    /// <summary>Greets, secures (STARTTLS or implicit TLS) and authenticates. Throws on any failure; nothing was sent.</summary>
    public static async Task<SmtpSession> OpenAsync(Socket connected, string host, string localDomain, bool implicitTls, Campaigns.StartTlsMode startTls,
        bool insecureSkipVerify, (string User, string Password)? credentials, CancellationToken cancellationToken)
    {
        var session = new SmtpSession(connected);
        try
        {
            if (implicitTls)
            {
                await session.UpgradeAsync(host, insecureSkipVerify, cancellationToken).ConfigureAwait(false);
            }

            await session.ExpectAsync(220, cancellationToken).ConfigureAwait(false);
            var capabilities = await session.EhloAsync(localDomain, cancellationToken).ConfigureAwait(false);
            if (!implicitTls && startTls != Campaigns.StartTlsMode.None)
            {
                if (capabilities.Contains("STARTTLS"))
                {
                    await session.CommandAsync("STARTTLS\r\n"u8.ToArray(), 220, cancellationToken).ConfigureAwait(false);
                    await session.UpgradeAsync(host, insecureSkipVerify, cancellationToken).ConfigureAwait(false);
                    capabilities = await session.EhloAsync(localDomain, cancellationToken).ConfigureAwait(false);
                }
                else if (startTls == Campaigns.StartTlsMode.Required)
                {
                    throw new AuthenticationException("the relay does not offer STARTTLS, which this relay requires");
                }
            }

            session.Pipelining = capabilities.Contains("PIPELINING");
            if (credentials is { } auth)
            {
                await session.AuthenticateAsync(capabilities, auth.User, auth.Password, cancellationToken).ConfigureAwait(false);
            }

            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// One transaction for one recipient. <paramref name="message"/> is the dot-stuffed message ending with CRLF
    /// followed by <c>.CRLF</c>. Returns the classified outcome; never throws for SMTP or network failures.
    /// </summary>
    public async Task<AttemptResult> SendAsync(string sender, string recipient, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        FinalDotWritten = false;
        if (!IsSafeAddress(sender) || !IsSafeAddress(recipient))
        {
            return new AttemptResult(AttemptKind.Rejected, null, "address not fit for an SMTP command (control characters or angle brackets)", false);
        }

        try
        {
            var length = 0;
            length += Put(length, "MAIL FROM:<"u8);
            length += PutAscii(length, sender);
            length += Put(length, ">\r\n"u8);
            var rcptAt = length;
            length += Put(length, "RCPT TO:<"u8);
            length += PutAscii(length, recipient);
            length += Put(length, ">\r\n"u8);
            var dataAt = length;
            length += Put(length, "DATA\r\n"u8);
            int mail, rcpt = 0, data = 0;
            string mailText, rcptText = "", dataText = "";
            if (Pipelining)
            {
                await _stream.WriteAsync(_command.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                mail = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                mailText = _lastText;
                // Once a step was refused, that reply is the outcome: a server that then closes must not turn a
                // permanent refusal into a "connection lost" retry.
                rcpt = await ReadFollowingAsync(mail / 100 != 2, cancellationToken).ConfigureAwait(false);
                rcptText = _lastText;
                data = await ReadFollowingAsync(mail / 100 != 2 || rcpt / 100 != 2, cancellationToken).ConfigureAwait(false);
                dataText = _lastText;
            }
            else
            {
                await _stream.WriteAsync(_command.AsMemory(0, rcptAt), cancellationToken).ConfigureAwait(false);
                mail = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                mailText = _lastText;
                if (mail / 100 == 2)
                {
                    await _stream.WriteAsync(_command.AsMemory(rcptAt, dataAt - rcptAt), cancellationToken).ConfigureAwait(false);
                    rcpt = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                    rcptText = _lastText;
                    if (rcpt / 100 == 2)
                    {
                        await _stream.WriteAsync(_command.AsMemory(dataAt, length - dataAt), cancellationToken).ConfigureAwait(false);
                        data = await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
                        dataText = _lastText;
                    }
                }
            }

            // The first refusal is the reason (later replies in a pipelined group only echo it).
            var refused = mail / 100 != 2 ? (mail, "MAIL FROM", mailText) : rcpt / 100 != 2 ? (rcpt, "RCPT TO", rcptText) : data != 354 ? (data, "DATA", dataText) : (0, null, "");
            if (refused.Item2 is not null)
            {
                if (data == 354)
                {
                    // The server opened the data phase although the envelope failed: never send the message; drop the connection.
                    _broken = true;
                }
                else if (refused.Item1 != 421 && !_broken)
                {
                    await ResetAsync(cancellationToken).ConfigureAwait(false);
                }

                return Refusal(refused.Item1, refused.Item2, refused.Item3);
            }

            await _stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
            FinalDotWritten = true;
            OnFinalDot?.Invoke();
            var (code, text) = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
            return code switch
            {
                >= 200 and < 300 => new AttemptResult(AttemptKind.Delivered, code, text, false),
                >= 400 and < 500 => new AttemptResult(AttemptKind.Retry, code, text, code == 421),
                >= 500 and < 600 => new AttemptResult(AttemptKind.Rejected, code, text, false),
                // An unexpected non-error reply: after the dot nobody knows what the relay did with the message.
                _ => new AttemptResult(AttemptKind.InDoubt, code, text, true),
            };
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            _broken = true;
            var reason = ex switch
            {
                OperationCanceledException => FinalDotWritten ? "no reply to the final dot in time" : "timed out",
                SmtpReplyException => $"protocol error: {ex.Message}",
                _ => $"connection lost: {ex.Message}",
            };
            return FinalDotWritten
                ? new AttemptResult(AttemptKind.InDoubt, null, $"{reason} (after the final dot: the relay may have the message)", true)
                : new AttemptResult(AttemptKind.Retry, null, $"{reason} (before the final dot: not delivered)", true);
        }

        AttemptResult Refusal(int code, string stage, string reply)
        {
            var text = $"{code} {reply}".Trim();
            var broken = code == 421 || _broken;
            return code is >= 500 and < 600
                ? new AttemptResult(AttemptKind.Rejected, code, text, broken)
                : new AttemptResult(AttemptKind.Retry, code, code is >= 400 and < 500 ? text : $"{text} (unexpected reply to {stage})", broken || code is < 400 or >= 600);
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
            await _stream.WriteAsync("QUIT\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
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

    private async Task<int> ReadFollowingAsync(bool alreadyRefused, CancellationToken cancellationToken)
    {
        if (!alreadyRefused)
        {
            return await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await ReadCodeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            _broken = true;
            return 0;
        }
    }

    /// <summary>Ends a refused transaction so the connection can be reused; a connection that cannot is dropped.</summary>
    private async Task ResetAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _stream.WriteAsync("RSET\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            if (await ReadCodeAsync(cancellationToken).ConfigureAwait(false) / 100 != 2)
            {
                _broken = true;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or SmtpReplyException or ObjectDisposedException)
        {
            _broken = true;
        }
    }

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
    }

    private async Task<HashSet<string>> EhloAsync(string localDomain, CancellationToken cancellationToken)
    {
        var length = Put(0, "EHLO "u8);
        length += PutAscii(length, localDomain);
        length += Put(length, "\r\n"u8);
        await _stream.WriteAsync(_command.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        var lines = new List<string>();
        var (code, _) = await ReadReplyAsync(cancellationToken, lines).ConfigureAwait(false);
        if (code != 250)
        {
            throw new SmtpReplyException(code, $"EHLO refused: {code} {_lastText}");
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
            await CommandAsync(Encoding.ASCII.GetBytes($"AUTH PLAIN {token}\r\n"), 235, cancellationToken).ConfigureAwait(false);
        }
        else if (capabilities.Contains("AUTH=LOGIN"))
        {
            await CommandAsync("AUTH LOGIN\r\n"u8.ToArray(), 334, cancellationToken).ConfigureAwait(false);
            await CommandAsync(Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(user)) + "\r\n"), 334, cancellationToken).ConfigureAwait(false);
            await CommandAsync(Encoding.ASCII.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(password)) + "\r\n"), 235, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            throw new AuthenticationException("the relay offers neither AUTH PLAIN nor AUTH LOGIN");
        }
    }

    private async Task CommandAsync(ReadOnlyMemory<byte> command, int expected, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(command, cancellationToken).ConfigureAwait(false);
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

    private async Task<int> ReadCodeAsync(CancellationToken cancellationToken)
    {
        var (code, _) = await ReadReplyAsync(cancellationToken).ConfigureAwait(false);
        return code;
    }

    /// <summary>Reads one (possibly multi-line) reply; its text is kept in <see cref="_lastText"/> only when it is not a plain 2xx/354.</summary>
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
