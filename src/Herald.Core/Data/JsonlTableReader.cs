using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Herald.Data;

/// <summary>
/// JSON Lines: one object per line, read as bytes (no per-line string). Columns grow as new keys appear; nested
/// arrays and objects become <see cref="List{T}"/> and <see cref="Dictionary{TKey,TValue}"/>.
/// </summary>
internal sealed class JsonlTableReader : ITableReader
{
    private const int MaxLineBytes = 64 * 1024 * 1024;
    private readonly FileStream _stream;
    private readonly List<string> _columns = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private bool _read;

    public JsonlTableReader(string fullPath, string display)
    {
        Path = display;
        _stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    public string Path { get; }

    public IReadOnlyList<string> Columns => _columns;

    public IEnumerable<DataRecord> ReadRows(CancellationToken cancellationToken = default)
    {
        if (_read)
        {
            throw new InvalidOperationException("The rows of a table reader are read once.");
        }

        _read = true;
        return Rows(cancellationToken);
    }

    private IEnumerable<DataRecord> Rows(CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int start = 0, end = 0, line = 0;
            var eof = false;
            var any = false;
            while (true)
            {
                var newline = buffer.AsSpan(start, end - start).IndexOf((byte)'\n');
                if (newline < 0 && !eof)
                {
                    // Keep the partial line, make room, read more.
                    if (start > 0)
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                        end -= start;
                        start = 0;
                    }

                    if (end == buffer.Length)
                    {
                        if (buffer.Length >= MaxLineBytes)
                        {
                            throw Error(line + 1, $"line longer than {MaxLineBytes / (1024 * 1024)} MB");
                        }

                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        Buffer.BlockCopy(buffer, 0, bigger, 0, end);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    var read = _stream.Read(buffer, end, buffer.Length - end);
                    if (read == 0)
                    {
                        eof = true;
                    }

                    end += read;
                    continue;
                }

                if (newline < 0 && start == end)
                {
                    break;
                }

                var length = newline < 0 ? end - start : newline;
                var bytes = buffer.AsSpan(start, length);
                start += newline < 0 ? length : length + 1;
                line++;
                if ((line & 1023) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                if (line == 1 && bytes.StartsWith("\xEF\xBB\xBF"u8))
                {
                    bytes = bytes[3..];
                }

                if (!bytes.IsEmpty && bytes[^1] == '\r')
                {
                    bytes = bytes[..^1];
                }

                if (bytes.Trim(" \t"u8).IsEmpty)
                {
                    continue;
                }

                if (!Utf8.IsValid(bytes))
                {
                    throw Error(line, "not valid UTF-8 (save the file as UTF-8)");
                }

                any = true;
                yield return new DataRecord(line, ParseLine(bytes, line));
            }

            if (!any)
            {
                throw Error(0, "the file has no records");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private object?[] ParseLine(ReadOnlySpan<byte> bytes, int line)
    {
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw Error(line, "expected a JSON object ({...}) on each line");
            }

            var values = new object?[_columns.Count];
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                reader.Read();
                var value = ReadValue(ref reader);
                if (!_index.TryGetValue(name, out var ordinal))
                {
                    ordinal = _columns.Count;
                    _index.Add(name, ordinal);
                    _columns.Add(name);
                }

                if (ordinal >= values.Length)
                {
                    Array.Resize(ref values, _columns.Count);
                }

                values[ordinal] = value;
            }

            if (reader.Read())
            {
                throw Error(line, "more than one JSON value on the line");
            }

            return values;
        }
        catch (JsonException ex)
        {
            var column = ex.BytePositionInLine is { } position ? (int)position + 1 : 0;
            throw new CampaignException(new Problem(Path, line, column, $"malformed JSON: {FirstSentence(ex.Message)}"));
        }
    }

    private static object? ReadValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.Number:
                return reader.TryGetInt64(out var l) ? l : (object)reader.GetDouble();
            case JsonTokenType.True:
                return true;
            case JsonTokenType.False:
                return false;
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartArray:
                var list = new List<object?>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    list.Add(ReadValue(ref reader));
                }

                return list;
            case JsonTokenType.StartObject:
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    map[name] = ReadValue(ref reader);
                }

                return map;
            default:
                throw new JsonException($"unexpected {reader.TokenType}");
        }
    }

    private static string FirstSentence(string message)
    {
        var index = message.IndexOf(". ", StringComparison.Ordinal);
        return index > 0 ? message[..index] : message.TrimEnd('.');
    }

    private CampaignException Error(int line, string message) =>
        new(new Problem(Path, line, 0, message, IsRow: line > 0));

    public void Dispose() => _stream.Dispose();
}
