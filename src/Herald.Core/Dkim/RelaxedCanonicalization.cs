using System.Buffers;
using System.Security.Cryptography;

namespace Herald.Dkim;

/// <summary>
/// DKIM "relaxed" canonicalization (RFC 6376 §3.4.2 and §3.4.4) over message bytes with CRLF line ends. Input may
/// be dot-stuffed for SMTP DATA (RFC 5321 §4.5.2): the stuffed dots are then ignored, so what is hashed is the
/// message the receiver reconstructs.
/// </summary>
internal static class RelaxedCanonicalization
{
    /// <summary>
    /// Hashes the canonical body: trailing white space of each line removed, runs of SP/HTAB reduced to one SP,
    /// empty lines at the end removed, a non-empty body ending in CRLF. Lines that need none of it (most: quoted-
    /// printable never ends a line with white space) are hashed as runs of the input, without a copy.
    /// </summary>
    public static void HashBody(ReadOnlySpan<byte> body, bool dotStuffed, IncrementalHash hash)
    {
        var end = ContentEnd(body, dotStuffed);
        var runStart = 0;
        var position = 0;
        var finder = new DirtyLineFinder(dotStuffed);
        byte[]? scratch = null;
        try
        {
            while (position < end)
            {
                var dirty = finder.Next(body[..end], position);
                if (dirty < 0)
                {
                    break;
                }

                var lineStart = dirty == 0 ? 0 : body[..dirty].LastIndexOf((byte)'\n') + 1;
                var lineEndRelative = body[dirty..end].IndexOf("\r\n"u8);
                var lineEnd = lineEndRelative < 0 ? end : dirty + lineEndRelative;
                if (lineStart > runStart)
                {
                    hash.AppendData(body[runStart..lineStart]);
                }

                var line = body[lineStart..lineEnd];
                scratch ??= ArrayPool<byte>.Shared.Rent(Math.Max(256, line.Length + 2));
                if (scratch.Length < line.Length + 2)
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                    scratch = ArrayPool<byte>.Shared.Rent(line.Length + 2);
                }

                var length = CanonicalLine(line, dotStuffed, scratch);
                scratch[length++] = (byte)'\r';
                scratch[length++] = (byte)'\n';
                hash.AppendData(scratch.AsSpan(0, length));
                position = runStart = Math.Min(end, lineEnd + 2);
            }

            if (runStart < end)
            {
                hash.AppendData(body[runStart..end]);
                if (end < 2 || body[end - 2] != '\r' || body[end - 1] != '\n')
                {
                    // The last line had no CRLF (and was clean): relaxed adds one to a non-empty body.
                    hash.AppendData("\r\n"u8);
                }
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>
    /// Appends <c>name:value\r\n</c> of one header field (name lower-cased, unfolded, white space runs reduced to
    /// one SP, none around the colon or at the end) to <paramref name="output"/>; returns the bytes written.
    /// <paramref name="field"/> is the whole field, name to last CRLF (which may be missing).
    /// </summary>
    public static int Header(ReadOnlySpan<byte> field, Span<byte> output, bool withCrlf = true)
    {
        var colon = field.IndexOf((byte)':');
        if (colon < 0)
        {
            throw new ArgumentException("A header field has a colon.", nameof(field));
        }

        var written = 0;
        foreach (var b in field[..colon])
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                output[written++] = b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
            }
        }

        output[written++] = (byte)':';
        var pendingSpace = false;
        var any = false;
        foreach (var b in field[(colon + 1)..])
        {
            if (b is (byte)'\r' or (byte)'\n')
            {
                continue;
            }

            if (b is (byte)' ' or (byte)'\t')
            {
                pendingSpace = any;
                continue;
            }

            if (pendingSpace)
            {
                output[written++] = (byte)' ';
                pendingSpace = false;
            }

            output[written++] = b;
            any = true;
        }

        if (withCrlf)
        {
            output[written++] = (byte)'\r';
            output[written++] = (byte)'\n';
        }

        return written;
    }

    /// <summary>The most bytes <see cref="Header"/> writes for a field of <paramref name="length"/> bytes.</summary>
    public static int MaxHeaderLength(int length) => length + 3;

    /// <summary>One line (without its CRLF) reduced: stuffed dot dropped, white space runs to one SP, none at the end.</summary>
    private static int CanonicalLine(ReadOnlySpan<byte> line, bool dotStuffed, Span<byte> output)
    {
        if (dotStuffed && !line.IsEmpty && line[0] == '.')
        {
            line = line[1..];
        }

        var written = 0;
        var pendingSpace = false;
        foreach (var b in line)
        {
            if (b is (byte)' ' or (byte)'\t')
            {
                pendingSpace = true;
                continue;
            }

            if (pendingSpace)
            {
                output[written++] = (byte)' ';
                pendingSpace = false;
            }

            output[written++] = b;
        }

        return written;
    }

    /// <summary>
    /// Where the canonical body ends: after the CRLF of the last line that is not empty once its white space is
    /// removed (or at the end of a last line without CRLF); 0 for a body of empty lines only.
    /// </summary>
    private static int ContentEnd(ReadOnlySpan<byte> body, bool dotStuffed)
    {
        var end = body.Length;
        while (end > 0)
        {
            // The line before `end`: [start, lineEnd) without its CRLF.
            var lineEnd = end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n' ? end - 2 : end;
            var newline = lineEnd == 0 ? -1 : body[..lineEnd].LastIndexOf("\r\n"u8);
            var start = newline < 0 ? 0 : newline + 2;
            var line = body[start..lineEnd];
            if (dotStuffed && !line.IsEmpty && line[0] == '.')
            {
                line = line[1..];
            }

            if (line.IndexOfAnyExcept((byte)' ', (byte)'\t') >= 0)
            {
                return end;
            }

            end = start;
        }

        return 0;
    }

    /// <summary>
    /// Finds the next byte that makes its line differ from its canonical form: a tab, two spaces in a row, a space
    /// before CRLF or at the end, or (dot-stuffed input) a dot at the start of a line. Each pattern is searched
    /// vectorized over the rest of the body and remembered, so the whole body is scanned a few times at most.
    /// </summary>
    private struct DirtyLineFinder(bool dotStuffed)
    {
        private int _tab = -2;
        private int _double = -2;
        private int _trailing = -2;
        private int _dot = -2;

        public int Next(ReadOnlySpan<byte> body, int from)
        {
            var next = Refresh(ref _tab, body, from, static s => s.IndexOf((byte)'\t'), 0);
            next = Min(next, Refresh(ref _double, body, from, static s => s.IndexOf("  "u8), 0));
            next = Min(next, Refresh(ref _trailing, body, from, static s => s.IndexOf(" \r\n"u8), 0));
            if (body.Length > 0 && body[^1] == ' ')
            {
                // A last line without CRLF that ends in a space.
                next = Min(next, body.Length - 1);
            }

            if (dotStuffed)
            {
                if (from == 0 && body.Length > 0 && body[0] == '.')
                {
                    return 0;
                }

                // "\n." found at m: the dot at m + 1 starts a line.
                next = Min(next, Refresh(ref _dot, body, from, static s => s.IndexOf("\n."u8), 1));
            }

            return next;
        }

        private static int Min(int a, int b) => a < 0 ? b : b < 0 ? a : Math.Min(a, b);

        private delegate int Search(ReadOnlySpan<byte> span);

        /// <summary>The next match at or after <paramref name="from"/>, plus <paramref name="add"/>; cached until passed.</summary>
        private static int Refresh(ref int cached, ReadOnlySpan<byte> body, int from, Search search, int add)
        {
            if (cached == -1 || cached >= from)
            {
                return cached;
            }

            var start = Math.Max(0, from - add);
            var found = search(body[start..]);
            cached = found < 0 ? -1 : start + found + add;
            return cached;
        }
    }
}
