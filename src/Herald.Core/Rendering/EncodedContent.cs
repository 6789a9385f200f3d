using System.Buffers;
using System.Text;
using MimeKit;
using MimeKit.Encodings;

namespace Herald.Rendering;

/// <summary>
/// Turns a rendered body into MIME content that is already quoted-printable encoded (LF line ends; MimeKit converts to
/// CRLF on write), so MimeKit copies it through instead of scanning and re-encoding it. Buffers come from the pool and
/// go back when the message is disposed.
/// </summary>
internal static class EncodedContent
{
    public static MimeContent QuotedPrintable(StringBuilder text)
    {
        var charCount = text.Length;
        var utf8 = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(charCount));
        byte[]? encoded = null;
        try
        {
            var length = 0;
            var encoder = Encoding.UTF8.GetEncoder();
            foreach (var chunk in text.GetChunks())
            {
                length += encoder.GetBytes(chunk.Span, utf8.AsSpan(length), flush: false);
            }

            length += encoder.GetBytes([], utf8.AsSpan(length), flush: true);
            var qp = new QuotedPrintableEncoder();
            encoded = ArrayPool<byte>.Shared.Rent(qp.EstimateOutputLength(length));
            var written = qp.Flush(utf8, 0, length, encoded);
            var content = new MimeContent(new PooledStream(encoded, written), ContentEncoding.QuotedPrintable);
            encoded = null;
            return content;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(utf8);
            if (encoded is not null)
            {
                ArrayPool<byte>.Shared.Return(encoded);
            }
        }
    }

    /// <summary>A read-only stream over a pooled buffer, returned to the pool on dispose.</summary>
    private sealed class PooledStream(byte[] buffer, int length) : MemoryStream(buffer, 0, length, writable: false, publiclyVisible: false)
    {
        private byte[]? _buffer = buffer;

        protected override void Dispose(bool disposing)
        {
            var rented = Interlocked.Exchange(ref _buffer, null);
            base.Dispose(disposing);
            if (rented is not null && disposing)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
