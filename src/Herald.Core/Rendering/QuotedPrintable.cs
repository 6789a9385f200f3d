using System.Buffers;
using System.Text;

namespace Herald.Rendering;

/// <summary>
/// Quoted-printable (RFC 2045 §6.7) of UTF-8 text, written with CRLF line ends so the bytes can go on the wire as
/// they are: lines of at most 76 characters, soft breaks as <c>=CRLF</c>, <c>=</c> and non-ASCII as <c>=XX</c>, and
/// white space before a line end encoded. Input line ends (LF or CRLF) become CRLF; a lone CR is encoded.
/// The output never contains <c>=_</c> or <c>=-</c>, so a boundary starting with either cannot occur in it.
/// </summary>
internal static class QuotedPrintable
{
    private const int MaxLine = 76;
    private static ReadOnlySpan<byte> Hex => "0123456789ABCDEF"u8;

    /// <summary>Bytes that may stay literal (white space only when no line end follows: checked separately).</summary>
    private static readonly SearchValues<byte> Literal = SearchValues.Create(
        [.. Enumerable.Range(33, 126 - 33 + 1).Where(b => b != '=').Select(b => (byte)b), (byte)' ', (byte)'\t']);

    /// <summary>The most bytes the span overload of Encode can write for <paramref name="utf8Length"/> input bytes.</summary>
    public static int MaxEncodedLength(int utf8Length) => (utf8Length * 3) + ((utf8Length * 3 / (MaxLine - 1)) * 3) + 8;

    /// <summary>Encodes <paramref name="text"/> (as UTF-8) into <paramref name="output"/>.</summary>
    public static void Encode(StringBuilder text, IBufferWriter<byte> output)
    {
        var charCount = text.Length;
        var utf8 = ArrayPool<byte>.Shared.Rent(Math.Max(16, Encoding.UTF8.GetMaxByteCount(charCount)));
        try
        {
            var length = 0;
            var encoder = Encoding.UTF8.GetEncoder();
            foreach (var chunk in text.GetChunks())
            {
                length += encoder.GetBytes(chunk.Span, utf8.AsSpan(length), flush: false);
            }

            length += encoder.GetBytes([], utf8.AsSpan(length), flush: true);
            var span = output.GetSpan(MaxEncodedLength(length));
            var written = Encode(utf8.AsSpan(0, length), span);
            output.Advance(written);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(utf8);
        }
    }

    /// <summary>Encodes <paramref name="input"/> into <paramref name="output"/> (at least <see cref="MaxEncodedLength"/> long); returns the bytes written.</summary>
    public static int Encode(ReadOnlySpan<byte> input, Span<byte> output)
    {
        var o = 0;
        var column = 0;
        var i = 0;
        while (i < input.Length)
        {
            // Fast path: copy a run of literal bytes in line-sized pieces (most of an HTML body).
            var run = input[i..].IndexOfAnyExcept(Literal);
            var n = run < 0 ? input.Length - i : run;
            var end = i + n;
            if (n > 0 && input[end - 1] is (byte)' ' or (byte)'\t' && (end == input.Length || input[end] is (byte)'\r' or (byte)'\n'))
            {
                n--; // white space before a line end is encoded below
            }

            while (n > 0)
            {
                var take = Math.Min(n, MaxLine - 1 - column);
                if (take == 0)
                {
                    output[o++] = (byte)'=';
                    output[o++] = (byte)'\r';
                    output[o++] = (byte)'\n';
                    column = 0;
                    continue;
                }

                input.Slice(i, take).CopyTo(output[o..]);
                o += take;
                i += take;
                n -= take;
                column += take;
            }

            if (i >= input.Length)
            {
                break;
            }

            var b = input[i];
            if (b == (byte)'\n' || (b == (byte)'\r' && i + 1 < input.Length && input[i + 1] == (byte)'\n'))
            {
                output[o++] = (byte)'\r';
                output[o++] = (byte)'\n';
                column = 0;
                i += b == (byte)'\r' ? 2 : 1;
                continue;
            }

            // Space and tab stay literal unless a line end (or the end) follows: trailing white space would be stripped.
            var literal = b is >= 33 and <= 126 && b != (byte)'=';
            if (b is (byte)' ' or (byte)'\t')
            {
                var next = i + 1 < input.Length ? input[i + 1] : (byte)'\n';
                literal = next is not ((byte)'\n' or (byte)'\r');
            }

            var width = literal ? 1 : 3;
            // Keep room for the soft break's '=' unless this is the line's last character before a hard break.
            if (column + width > MaxLine - 1)
            {
                output[o++] = (byte)'=';
                output[o++] = (byte)'\r';
                output[o++] = (byte)'\n';
                column = 0;
            }

            if (literal)
            {
                output[o++] = b;
            }
            else
            {
                output[o++] = (byte)'=';
                output[o++] = Hex[b >> 4];
                output[o++] = Hex[b & 0xF];
            }

            column += width;
            i++;
        }

        return o;
    }
}
