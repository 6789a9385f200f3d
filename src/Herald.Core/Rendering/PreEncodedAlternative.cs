using System.Buffers;
using System.Text;
using MimeKit;

namespace Herald.Rendering;

/// <summary>
/// <c>multipart/alternative</c> of a text and an HTML part whose whole body (boundaries, part headers, quoted-printable
/// content, CRLF line ends) is serialized once into one pooled buffer. Writing it with CRLF line ends is one write of
/// that buffer: no per-part filters, no 4 kB chunked copies, no scan by <c>Prepare</c>. The two <see cref="TextPart"/>
/// children are real and read from slices of the same buffer, so <c>HtmlBody</c>/<c>TextBody</c> and parsers see the
/// same bytes as the wire. Immutable once built: the children must not be changed.
/// </summary>
internal sealed class PreEncodedAlternative : MultipartAlternative
{
    private static readonly byte[] TextHeaders = Encoding.ASCII.GetBytes("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
    private static readonly byte[] HtmlHeaders = Encoding.ASCII.GetBytes("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");

    private byte[]? _buffer;
    private int _length;

    private PreEncodedAlternative()
    {
    }

    /// <summary>The serialized body (after the Content-Type header), for tests and sizes.</summary>
    public ReadOnlySpan<byte> Body => _buffer.AsSpan(0, _length);

    public static PreEncodedAlternative Create(StringBuilder text, StringBuilder html)
    {
        var body = new PreEncodedAlternative();
        // MimeKit's generated boundaries start with "=-", which quoted-printable output can never contain.
        var boundary = Encoding.ASCII.GetBytes(body.ContentType.Boundary ?? throw new InvalidOperationException("multipart without a boundary"));
        var writer = new PooledWriter(Math.Max(4096, ((text.Length + html.Length) * 5 / 4) + 1024));
        try
        {
            writer.Write("--"u8);
            writer.Write(boundary);
            writer.Write("\r\n"u8);
            writer.Write(TextHeaders);
            var textStart = writer.Length;
            QuotedPrintable.Encode(text, writer);
            var textEnd = writer.Length;
            writer.Write("\r\n--"u8);
            writer.Write(boundary);
            writer.Write("\r\n"u8);
            writer.Write(HtmlHeaders);
            var htmlStart = writer.Length;
            QuotedPrintable.Encode(html, writer);
            var htmlEnd = writer.Length;
            writer.Write("\r\n--"u8);
            writer.Write(boundary);
            writer.Write("--\r\n"u8);

            var buffer = writer.Buffer;
            var textPart = Part("plain", buffer, textStart, textEnd - textStart);
            var htmlPart = Part("html", buffer, htmlStart, htmlEnd - htmlStart);
            body.Add(textPart);
            body.Add(htmlPart);
            body._buffer = buffer;
            body._length = writer.Length;
            writer.Detach();
            return body;
        }
        catch
        {
            body.Dispose();
            throw;
        }
        finally
        {
            writer.Dispose();
        }
    }

    private static TextPart Part(string subtype, byte[] buffer, int start, int length)
    {
        var part = new TextPart(subtype)
        {
            Content = new MimeContent(new MemoryStream(buffer, start, length, writable: false), ContentEncoding.QuotedPrintable),
            ContentTransferEncoding = ContentEncoding.QuotedPrintable,
        };
        part.ContentType.Charset = "utf-8";
        return part;
    }

    // Already 7-bit with lines of at most 76 characters: nothing to choose or re-encode.
    public override void Prepare(EncodingConstraint constraint, int maxLineLength = 78)
    {
    }

    public override void WriteTo(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stream);
        if (options.NewLineFormat != NewLineFormat.Dos || _buffer is null)
        {
            base.WriteTo(options, stream, contentOnly, cancellationToken);
            return;
        }

        if (!contentOnly)
        {
            Headers.WriteTo(options, stream, cancellationToken);
        }

        cancellationToken.ThrowIfCancellationRequested();
        stream.Write(_buffer, 0, _length);
    }

    public override async Task WriteToAsync(FormatOptions options, Stream stream, bool contentOnly, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stream);
        if (options.NewLineFormat != NewLineFormat.Dos || _buffer is null)
        {
            await base.WriteToAsync(options, stream, contentOnly, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!contentOnly)
        {
            await Headers.WriteToAsync(options, stream, cancellationToken).ConfigureAwait(false);
        }

        await stream.WriteAsync(_buffer.AsMemory(0, _length), cancellationToken).ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (disposing && buffer is not null)
        {
            MessageBuffers.Pool.Return(buffer);
        }
    }

    /// <summary>A growable writer over pooled arrays.</summary>
    private sealed class PooledWriter(int initial) : IBufferWriter<byte>, IDisposable
    {
        private byte[]? _array = MessageBuffers.Pool.Rent(initial);

        public int Length { get; private set; }

        public byte[] Buffer => _array!;

        public void Write(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(GetSpan(bytes.Length));
            Length += bytes.Length;
        }

        public void Advance(int count) => Length += count;

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _array.AsMemory(Length);
        }

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Ensure(sizeHint);
            return _array.AsSpan(Length);
        }

        private void Ensure(int sizeHint)
        {
            var array = _array!;
            if (array.Length - Length >= Math.Max(1, sizeHint))
            {
                return;
            }

            var bigger = MessageBuffers.Pool.Rent(Math.Max(array.Length * 2, Length + sizeHint));
            array.AsSpan(0, Length).CopyTo(bigger);
            MessageBuffers.Pool.Return(array);
            _array = bigger;
        }

        /// <summary>The buffer now belongs to the caller.</summary>
        public void Detach() => _array = null;

        public void Dispose()
        {
            if (_array is { } array)
            {
                _array = null;
                MessageBuffers.Pool.Return(array);
            }
        }
    }
}
