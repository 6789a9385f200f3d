using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Herald.Store;

namespace Herald.Tracking.Journal;

/// <summary>
/// One event per line, JSON (the same shape the spool of earlier versions wrote, so an old spool replays too). A line
/// is only ever appended whole: a kill can tear the last line of a file, never one in the middle, and a torn line is
/// not valid JSON, so readers skip it.
/// </summary>
internal static class JournalFormat
{
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<TrackingEvent> events, Utf8JsonWriter writer)
    {
        foreach (var e in events)
        {
            writer.Reset(output);
            JsonSerializer.Serialize(writer, e, JournalJson.Default.TrackingEvent);
            writer.Flush();
            output.Write("\n"u8);
        }
    }

    /// <summary>
    /// Parses the complete lines of <paramref name="data"/> into <paramref name="events"/>, at most
    /// <paramref name="max"/>; returns how many bytes were consumed (always up to the end of a line). A line that does
    /// not parse (a torn write) is skipped.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> data, List<TrackingEvent> events, int max, out int skipped)
    {
        skipped = 0;
        var consumed = 0;
        while (events.Count < max)
        {
            var rest = data[consumed..];
            var newline = rest.IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }

            var line = rest[..newline];
            consumed += newline + 1;
            if (line.IsEmpty || line.IsWhiteSpace())
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize(line, JournalJson.Default.TrackingEvent) is { } e)
                {
                    events.Add(e);
                }
            }
            catch (JsonException)
            {
                skipped++;
            }
        }

        return consumed;
    }

    /// <summary>The last line of a file that ends without a newline: the torn tail of a write a kill interrupted.</summary>
    public static bool TryParseTail(ReadOnlySpan<byte> tail, out TrackingEvent? e)
    {
        e = null;
        if (tail.IsEmpty || tail.IsWhiteSpace())
        {
            return false;
        }

        try
        {
            e = JsonSerializer.Deserialize(tail, JournalJson.Default.TrackingEvent);
            return e is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsWhiteSpace(this ReadOnlySpan<byte> span) => span.Trim(" \t\r"u8).IsEmpty;
}

[JsonSerializable(typeof(TrackingEvent))]
internal sealed partial class JournalJson : JsonSerializerContext;
