using Herald.Dkim;
using Herald.Rendering;
using MimeKit;

namespace Herald.Delivery;

/// <summary>
/// A message serialized for the DATA phase into one pooled buffer: CRLF line ends, dot-stuffed (RFC 5321 §4.5.2),
/// ending with CRLF and the terminating <c>.CRLF</c>, so it goes on the socket in one write. With DKIM, the message is
/// serialized behind room left for its signature, signed in place, and the DKIM-Signature header(s) written into that
/// room: still one serialization, one buffer, one write.
/// </summary>
internal sealed class WireMessage : Stream
{
    private static readonly FormatOptions Wire = CreateOptions();
    private byte[] _buffer;
    private int _start;
    private int _length;
    private bool _atLineStart = true;

    private WireMessage(int capacity)
    {
        _buffer = MessageBuffers.Pool.Rent(capacity);
    }

    public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(_start, _length - _start);

    public static WireMessage Create(MimeMessage message, DkimSigner? dkim = null)
    {
        // Chooses transfer encodings for parts that did not declare one (ours did: it is a no-op for them).
        message.Prepare(EncodingConstraint.SevenBit);
        var reserve = dkim?.EstimatedLength ?? 0;
        var wire = new WireMessage((64 * 1024) + reserve);
        try
        {
            wire._start = wire._length = reserve;
            message.WriteTo(Wire, wire);
            if (wire._length - reserve < 2 || wire._buffer[wire._length - 2] != '\r' || wire._buffer[wire._length - 1] != '\n')
            {
                wire.Append("\r\n"u8);
            }

            if (dkim is not null)
            {
                wire.InsertSignature(dkim.Sign(wire._buffer.AsSpan(reserve, wire._length - reserve), dotStuffed: true));
            }

            wire.Append(".\r\n"u8);
            return wire;
        }
        catch
        {
            wire.Dispose();
            throw;
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            if (_atLineStart && buffer[0] == (byte)'.')
            {
                Append("."u8);
            }

            // Copy through the next line end in one go; "\n." is rare, so runs are long.
            var newline = buffer.IndexOf((byte)'\n');
            var take = newline < 0 ? buffer.Length : newline + 1;
            Append(buffer[..take]);
            _atLineStart = newline >= 0;
            buffer = buffer[take..];
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Puts the signature header(s) right in front of the message, in the room left for them.</summary>
    private void InsertSignature(ReadOnlySpan<byte> signature)
    {
        if (signature.Length > _start)
        {
            // More than estimated (many repeated signed headers): move the message to make room, once.
            var shift = signature.Length - _start;
            Append(new byte[shift]);
            _buffer.AsSpan(_start, _length - shift - _start).CopyTo(_buffer.AsSpan(_start + shift));
            _start += shift;
        }

        _start -= signature.Length;
        signature.CopyTo(_buffer.AsSpan(_start));
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_buffer.Length - _length < bytes.Length)
        {
            var bigger = MessageBuffers.Pool.Rent(Math.Max(_buffer.Length * 2, _length + bytes.Length));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            MessageBuffers.Pool.Return(_buffer);
            _buffer = bigger;
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _buffer.Length > 0)
        {
            MessageBuffers.Pool.Return(_buffer);
            _buffer = [];
            _start = _length = 0;
        }

        base.Dispose(disposing);
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _length - _start;

    public override long Position { get => _length - _start; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private static FormatOptions CreateOptions()
    {
        var options = FormatOptions.Default.Clone();
        options.NewLineFormat = NewLineFormat.Dos;
        options.HiddenHeaders.Add(HeaderId.Bcc);
        options.HiddenHeaders.Add(HeaderId.ResentBcc);
        options.HiddenHeaders.Add(HeaderId.ContentLength);
        return options;
    }
}
