using System.Buffers;
using System.Text;

namespace Herald.Cli.Sink;

/// <summary>Finds the Message-ID header in raw message bytes without parsing (or copying) the whole message.</summary>
internal static class MessageIdReader
{
    // Headers of real campaign messages are a few kB; a Message-ID beyond this is not worth a full parse.
    private const int MaxHeaderBytes = 32 * 1024;
    private static readonly byte[] Name = "message-id:"u8.ToArray();

    public static string? Find(ReadOnlySequence<byte> message)
    {
        var length = (int)Math.Min(message.Length, MaxHeaderBytes);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.Slice(0, length).CopyTo(rented);
            return Find(rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public static string? Find(ReadOnlySpan<byte> headers)
    {
        var position = 0;
        while (position < headers.Length)
        {
            var rest = headers[position..];
            var lineEnd = rest.IndexOf((byte)'\n');
            var line = lineEnd < 0 ? rest : rest[..lineEnd];
            var trimmed = line.TrimEnd((byte)'\r');
            if (trimmed.IsEmpty)
            {
                return null; // end of the header block
            }

            if (trimmed.Length >= Name.Length && Ascii.EqualsIgnoreCase(trimmed[..Name.Length], Name))
            {
                var value = new StringBuilder(Encoding.ASCII.GetString(trimmed[Name.Length..]));
                // Folded continuation lines start with white space.
                var next = position + (lineEnd < 0 ? rest.Length : lineEnd + 1);
                while (next < headers.Length && (headers[next] == (byte)' ' || headers[next] == (byte)'\t'))
                {
                    var more = headers[next..];
                    var end = more.IndexOf((byte)'\n');
                    var folded = (end < 0 ? more : more[..end]).TrimEnd((byte)'\r');
                    value.Append(Encoding.ASCII.GetString(folded));
                    next += end < 0 ? more.Length : end + 1;
                }

                var id = value.ToString().Trim();
                return id.Length == 0 ? null : id;
            }

            if (lineEnd < 0)
            {
                return null;
            }

            position += lineEnd + 1;
        }

        return null;
    }
}
