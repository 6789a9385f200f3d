using System.Text;
using System.Text.Json;
using Herald.Store;

namespace Herald.Tracking;

/// <summary>
/// Append-only JSON-lines file of events the store could not take. Each append is flushed to disk before it returns.
/// Replay is safe to repeat: the store ignores events it already has (by id), so a crash between a replay and the
/// file's removal double counts nothing.
/// </summary>
internal sealed class EventSpool
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    public EventSpool(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    public bool HasEvents => File.Exists(Path) && new FileInfo(Path).Length > 0;

    public void Append(IReadOnlyList<TrackingEvent> events)
    {
        var text = new StringBuilder();
        foreach (var e in events)
        {
            text.Append(JsonSerializer.Serialize(e, Json)).Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Every complete event in the file; a torn last line (a crash mid-append) is skipped.</summary>
    public List<TrackingEvent> ReadAll()
    {
        var events = new List<TrackingEvent>();
        if (!File.Exists(Path))
        {
            return events;
        }

        foreach (var line in File.ReadLines(Path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                if (JsonSerializer.Deserialize<TrackingEvent>(line, Json) is { } e)
                {
                    events.Add(e);
                }
            }
            catch (JsonException)
            {
                // A torn write from a crash: the rest of the file is still good.
            }
        }

        return events;
    }

    public void Delete() => File.Delete(Path);
}
