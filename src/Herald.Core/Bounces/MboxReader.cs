namespace Herald.Bounces;

/// <summary>One message of an mbox: its bytes, and whether it was cut at the size limit.</summary>
public sealed record MboxMessage(int Number, byte[] Data, bool Truncated);

/// <summary>
/// Splits an mbox (mboxo or mboxrd) into messages without loading the file: a message starts at a <c>From </c> line at
/// the start of the file or after an empty line; one leading <c>&gt;</c> is removed from <c>&gt;From </c> lines. A message
/// past the size limit is returned cut there (and flagged), never dropped.
/// </summary>
public static class MboxReader
{
    private static readonly byte[] FromLine = "From "u8.ToArray();

    /// <summary>True when the file starts like an mbox (its first line is a <c>From </c> line).</summary>
    public static bool LooksLikeMbox(string path)
    {
        Span<byte> start = stackalloc byte[5];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(start, 5, throwOnEndOfStream: false) == 5 && start.SequenceEqual(FromLine);
    }

    public static IEnumerable<MboxMessage> Read(Stream stream, int maxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var current = new MemoryStream();
        var truncated = false;
        var started = false;
        var previousEmpty = true;
        var number = 0;
        foreach (var line in Lines(stream))
        {
            var isFrom = previousEmpty && line.AsSpan().StartsWith(FromLine);
            if (isFrom)
            {
                if (started)
                {
                    yield return new MboxMessage(++number, Finish(current), truncated);
                }

                current = new MemoryStream();
                truncated = false;
                started = true;
                previousEmpty = false;
                continue;
            }

            previousEmpty = IsEmpty(line);
            if (!started)
            {
                continue; // not an mbox line: text before the first From line is not a message
            }

            var content = Unescape(line);
            if (current.Length + content.Length > maxMessageBytes)
            {
                truncated = true;
                continue;
            }

            current.Write(content);
        }

        if (started)
        {
            yield return new MboxMessage(++number, Finish(current), truncated);
        }
    }

    private static byte[] Finish(MemoryStream message)
    {
        // The empty line before the next From line belongs to the mbox, not the message.
        var data = message.ToArray();
        var end = data.Length;
        if (end >= 2 && data[end - 2] == '\r' && data[end - 1] == '\n' && end >= 4 && data[end - 4] == '\r' && data[end - 3] == '\n')
        {
            end -= 2;
        }
        else if (end >= 2 && data[end - 1] == '\n' && data[end - 2] == '\n')
        {
            end -= 1;
        }

        return end == data.Length ? data : data[..end];
    }

    private static bool IsEmpty(byte[] line) => line.Length == 0 || (line.Length == 1 && line[0] == '\n') || (line.Length == 2 && line[0] == '\r' && line[1] == '\n');

    private static ReadOnlySpan<byte> Unescape(byte[] line)
    {
        var span = line.AsSpan();
        var quotes = 0;
        while (quotes < span.Length && span[quotes] == '>')
        {
            quotes++;
        }

        return quotes > 0 && span[quotes..].StartsWith(FromLine) ? span[1..] : span;
    }

    /// <summary>Lines with their line ending; a line longer than 64 kB comes in pieces (only line starts matter here).</summary>
    private static IEnumerable<byte[]> Lines(Stream stream)
    {
        const int MaxLine = 64 * 1024;
        var buffer = new byte[64 * 1024];
        var line = new MemoryStream();
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] == '\n' || line.Length + (i - start) >= MaxLine)
                {
                    line.Write(buffer, start, i - start + 1);
                    start = i + 1;
                    yield return line.ToArray();
                    line.SetLength(0);
                }
            }

            line.Write(buffer, start, read - start);
        }

        if (line.Length > 0)
        {
            yield return line.ToArray();
        }
    }
}
