using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Herald.Core.Tests.Smtp;

public sealed partial class ScriptableSmtpServer
{
    /// <summary>One SMTP conversation: a buffered line reader over the socket and the command state machine.</summary>
    private sealed class Session(ScriptableSmtpServer server, Socket socket, NetworkStream stream, int connection)
    {
        private const string Host = "scriptable.test";
        private byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;
        private bool _inTransaction;
        private int _transaction;
        private string? _sender;
        private readonly List<string> _recipients = [];
        private int _firstAttempt;
        private MemoryStream? _chunks;

        private SmtpScript Script => server._script;

        private CancellationToken Token => server._disposed.Token;

        public async Task RunAsync()
        {
            if (await ActAsync(Script.OnConnect?.Invoke(Context()), $"220 {Host} ESMTP scriptable").ConfigureAwait(false) is not { } greeting
                || greeting is < 200 or >= 300)
            {
                return; // closed, stalled, or a refusing greeting (421/554) followed by a close
            }

            while (true)
            {
                var line = await ReadCommandAsync().ConfigureAwait(false);
                if (line is null)
                {
                    return;
                }

                server.RecordCommand(connection, line);
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                var verb = (space < 0 ? line : line[..space]).ToUpperInvariant();
                var argument = space < 0 ? string.Empty : line[(space + 1)..];
                var keepGoing = verb switch
                {
                    "EHLO" => await ActAsync(Script.OnEhlo?.Invoke(Context()), EhloReply()).ConfigureAwait(false) is not null,
                    "HELO" => await ActAsync(Script.OnEhlo?.Invoke(Context()), $"250 {Host}").ConfigureAwait(false) is not null,
                    "MAIL" => await MailAsync(argument).ConfigureAwait(false),
                    "RCPT" => await RcptAsync(argument).ConfigureAwait(false),
                    "DATA" => await DataAsync().ConfigureAwait(false),
                    "BDAT" => await BdatAsync(argument).ConfigureAwait(false),
                    "AUTH" when Script.Auth => await AuthAsync(argument).ConfigureAwait(false),
                    "STARTTLS" when Script.StartTls => await ActAsync(null, "220 2.0.0 Ready to start TLS").ConfigureAwait(false) is null,
                    "RSET" => await ResetAndReplyAsync().ConfigureAwait(false),
                    "NOOP" => await ReplyAsync("250 2.0.0 Ok").ConfigureAwait(false),
                    "QUIT" => !await ReplyAsync("221 2.0.0 Bye").ConfigureAwait(false),
                    _ => await ReplyAsync("502 5.5.2 Command not recognized").ConfigureAwait(false),
                };
                if (!keepGoing)
                {
                    return;
                }
            }
        }

        private async Task<bool> MailAsync(string argument)
        {
            Reset();
            _transaction = server.NextTransaction();
            var sender = Address(argument, "FROM:");
            var code = await ActAsync(Script.OnMail?.Invoke(Context() with { Sender = sender }), "250 2.1.0 Ok").ConfigureAwait(false);
            if (code is >= 200 and < 300)
            {
                _inTransaction = true;
                _sender = sender;
            }

            return code is not null;
        }

        private async Task<bool> RcptAsync(string argument)
        {
            if (!_inTransaction)
            {
                return await ReplyAsync("503 5.5.1 Error: need MAIL command").ConfigureAwait(false);
            }

            var recipient = Address(argument, "TO:");
            var attempt = server.NextRcptAttempt(recipient);
            var code = await ActAsync(Script.OnRcpt?.Invoke(Context() with { Recipient = recipient, Attempt = attempt }), "250 2.1.5 Ok")
                .ConfigureAwait(false);
            if (code is >= 200 and < 300)
            {
                if (_recipients.Count == 0)
                {
                    _firstAttempt = attempt;
                }

                _recipients.Add(recipient);
            }

            return code is not null;
        }

        private async Task<bool> DataAsync()
        {
            if (!_inTransaction || _recipients.Count == 0)
            {
                return await ReplyAsync("554 5.5.1 Error: no valid recipients").ConfigureAwait(false);
            }

            var code = await ActAsync(Script.OnData?.Invoke(Context()), "354 End data with <CR><LF>.<CR><LF>").ConfigureAwait(false);
            if (code != 354)
            {
                return code is not null;
            }

            if (Script.OnDataBody?.Invoke(Context()) is { } bodyAction)
            {
                // Misbehave mid-message: take in part of the data first, so the client is really sending.
                _ = await ReadLineAsync().ConfigureAwait(false);
                return await MidContentAsync(bodyAction).ConfigureAwait(false);
            }

            using var data = new MemoryStream();
            while (true)
            {
                var line = await ReadLineAsync().ConfigureAwait(false);
                if (line is null)
                {
                    return false; // closed by the client before the final dot
                }

                var span = line.Value.Span;
                if (span.Length == 1 && span[0] == (byte)'.')
                {
                    break;
                }

                data.Write(span.Length > 0 && span[0] == (byte)'.' ? span[1..] : span);
                data.Write("\r\n"u8);
            }

            return await FinalDotAsync(data.ToArray()).ConfigureAwait(false);
        }

        /// <summary>RFC 3030 chunks: the hooks apply to the last chunk as to a final dot.</summary>
        private async Task<bool> BdatAsync(string argument)
        {
            var parts = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                return await ReplyAsync("501 5.5.4 Syntax: BDAT size [LAST]").ConfigureAwait(false);
            }

            var last = parts.Length > 1 && parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase);
            if (size > 0 && _inTransaction && _recipients.Count > 0 && Script.OnDataBody?.Invoke(Context()) is { } bodyAction)
            {
                // Misbehave mid-chunk: take in part of it first, so the client is really sending.
                await ReadExactlyAsync(Stream.Null, Math.Min(size, 512)).ConfigureAwait(false);
                return await MidContentAsync(bodyAction).ConfigureAwait(false);
            }

            _chunks ??= new MemoryStream();
            await ReadExactlyAsync(_chunks, size).ConfigureAwait(false);
            if (!_inTransaction || _recipients.Count == 0)
            {
                _chunks = null;
                return await ReplyAsync("554 5.5.1 Error: no valid recipients").ConfigureAwait(false);
            }

            if (!last)
            {
                var chunkReply = await ActAsync(Script.OnChunk?.Invoke(Context()), string.Create(CultureInfo.InvariantCulture, $"250 2.0.0 {size} octets received")).ConfigureAwait(false);
                if (chunkReply is not (>= 200 and < 300))
                {
                    _chunks = null;
                }

                return chunkReply is not null;
            }

            var data = _chunks.ToArray();
            _chunks = null;
            return await FinalDotAsync(data).ConfigureAwait(false);
        }

        /// <summary>OnDataBody's action once part of the content was read: a reply ends the session, as do Close and Stall.</summary>
        private async Task<bool> MidContentAsync(SmtpAction action)
        {
            if (action is SmtpAction.ReplyAction reply)
            {
                await WriteLineAsync(Text(reply.Code, reply.Text)).ConfigureAwait(false);
                return false;
            }

            return await ActAsync(action, "unused").ConfigureAwait(false) is not null;
        }

        private async Task<bool> FinalDotAsync(byte[] data)
        {
            var recipients = _recipients.ToArray();
            var action = Script.OnFinalDot?.Invoke(Context());
            Reset();
            var reply = action switch
            {
                null => string.Create(CultureInfo.InvariantCulture, $"250 2.0.0 Ok: queued as Q{server._totalFinalDots + 1}"),
                SmtpAction.ReplyAction r => Text(r.Code, r.Text),
                _ => null,
            };

            // Recorded before the reply leaves, so a test that sees the client's outcome also sees the record.
            server.RecordFinalDot(recipients, data, reply is null ? null : ParseCode(reply), connection);
            return await ActAsync(action, reply ?? "unused").ConfigureAwait(false) is not null;
        }

        private async Task<bool> AuthAsync(string argument)
        {
            var words = argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string? credentials = null;
            if (words.Length > 0 && words[0].Equals("PLAIN", StringComparison.OrdinalIgnoreCase))
            {
                var token = words.Length > 1 ? words[1] : await ChallengeAsync("").ConfigureAwait(false);
                var parts = token is null ? [] : Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('\0');
                credentials = parts.Length == 3 ? $"{parts[1]}:{parts[2]}" : null;
            }
            else if (words.Length > 0 && words[0].Equals("LOGIN", StringComparison.OrdinalIgnoreCase))
            {
                var user = await ChallengeAsync("VXNlcm5hbWU6").ConfigureAwait(false);
                var password = user is null ? null : await ChallengeAsync("UGFzc3dvcmQ6").ConfigureAwait(false);
                credentials = password is null ? null : $"{Encoding.UTF8.GetString(Convert.FromBase64String(user!))}:{Encoding.UTF8.GetString(Convert.FromBase64String(password))}";
            }
            else
            {
                return await ReplyAsync("504 5.5.4 Unrecognized authentication type").ConfigureAwait(false);
            }

            server.RecordAuth(credentials ?? "");
            return await ActAsync(Script.OnAuth?.Invoke(Context() with { Credentials = credentials }), "235 2.7.0 Authentication successful").ConfigureAwait(false) is not null;
        }

        private async Task<string?> ChallengeAsync(string challenge)
        {
            await WriteLineAsync($"334 {challenge}").ConfigureAwait(false);
            return await ReadCommandAsync().ConfigureAwait(false);
        }

        private string EhloReply()
        {
            var offered = new (bool On, string Line)[]
            {
                (Script.Auth, "AUTH PLAIN LOGIN"),
                (Script.StartTls, "STARTTLS"),
                (Script.SmtpUtf8, "SMTPUTF8"),
                (Script.Pipelining, "PIPELINING"),
                (Script.Size, "SIZE 104857600"),
                (Script.Chunking, "CHUNKING"),
            };
            var lines = new List<string> { Host, "8BITMIME", "ENHANCEDSTATUSCODES" };
            lines.AddRange(offered.Where(o => o.On).Select(o => o.Line));

            return string.Join("\r\n", lines.Select((l, i) => (i == lines.Count - 1 ? "250 " : "250-") + l));
        }

        /// <summary>Carries out a stage's action. Returns the reply code sent, or null when the session must end.</summary>
        private async Task<int?> ActAsync(SmtpAction? action, string defaultReply)
        {
            switch (action)
            {
                case null:
                    await WriteLineAsync(defaultReply).ConfigureAwait(false);
                    return ParseCode(defaultReply);
                case SmtpAction.ReplyAction reply:
                    await WriteLineAsync(Text(reply.Code, reply.Text)).ConfigureAwait(false);
                    // 421 means "closing the channel" (RFC 5321 3.8): a real server hangs up after it.
                    return reply.Code == 421 ? null : reply.Code;
                case SmtpAction.StallAction:
                    await Task.Delay(Timeout.Infinite, Token).ConfigureAwait(false);
                    return null;
                case SmtpAction.RefuseAction:
                    // Linger 0 turns the close into a reset.
                    socket.LingerState = new LingerOption(true, 0);
                    return null;
                default:
                    return null; // Close
            }
        }

        private async Task<bool> ReplyAsync(string line)
        {
            await WriteLineAsync(line).ConfigureAwait(false);
            return true;
        }

        private async Task<bool> ResetAndReplyAsync()
        {
            Reset();
            return await ReplyAsync("250 2.0.0 Ok").ConfigureAwait(false);
        }

        private void Reset()
        {
            _inTransaction = false;
            _sender = null;
            _recipients.Clear();
            _firstAttempt = 0;
            _chunks = null;
        }

        private SmtpStageContext Context() => new()
        {
            Connection = connection,
            Transaction = _transaction,
            Sender = _sender,
            Recipient = _recipients.Count > 0 ? _recipients[0] : null,
            Attempt = _recipients.Count > 0 ? _firstAttempt : 0,
        };

        private static int ParseCode(string reply) => int.Parse(reply.AsSpan(0, 3), CultureInfo.InvariantCulture);

        private static string Address(string argument, string prefix)
        {
            var text = argument.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? argument[prefix.Length..] : argument;
            var open = text.IndexOf('<', StringComparison.Ordinal);
            var close = text.IndexOf('>', StringComparison.Ordinal);
            return open >= 0 && close > open ? text[(open + 1)..close] : text.Split(' ')[0];
        }

        private async Task WriteLineAsync(string line)
        {
            await stream.WriteAsync(Latin1.GetBytes(line + "\r\n"), Token).ConfigureAwait(false);
        }

        private async Task<string?> ReadCommandAsync()
        {
            var line = await ReadLineAsync().ConfigureAwait(false);
            return line is null ? null : Encoding.UTF8.GetString(line.Value.Span);
        }

        /// <summary>The next line without its CRLF (or bare LF); valid until the next read. Null at end of stream.</summary>
        private async Task<ReadOnlyMemory<byte>?> ReadLineAsync()
        {
            var scanned = 0;
            while (true)
            {
                var newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    var length = scanned + newline;
                    var line = _buffer.AsMemory(_start, length > 0 && _buffer[_start + length - 1] == (byte)'\r' ? length - 1 : length);
                    _start += length + 1;
                    return line;
                }

                scanned = _end - _start;
                if (!await FillAsync().ConfigureAwait(false))
                {
                    return null;
                }
            }
        }

        private async Task ReadExactlyAsync(Stream destination, int count)
        {
            while (count > 0)
            {
                if (_start == _end && !await FillAsync().ConfigureAwait(false))
                {
                    throw new IOException("connection closed inside a BDAT chunk");
                }

                var take = Math.Min(count, _end - _start);
                destination.Write(_buffer, _start, take);
                _start += take;
                count -= take;
            }
        }

        /// <summary>Reads more bytes, keeping the unread ones; grows the buffer for very long lines.</summary>
        private async Task<bool> FillAsync()
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_end), Token).ConfigureAwait(false);
            _end += read;
            return read > 0;
        }
    }
}
