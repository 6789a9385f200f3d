using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Herald.Rendering;

/// <summary>
/// Writes the per-recipient render context (<see cref="Store.WorkItem.Context"/>): a compact UTF-8 JSON object of the
/// recipient's fields, then the joined data sets (a record as an object, <c>many</c> as an array of objects).
/// Deterministic: the same input always gives the same bytes (nested object keys are sorted ordinally).
/// </summary>
public static class RenderContextSerializer
{
    private static readonly JsonWriterOptions Options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static byte[] Serialize(IReadOnlyList<string> columns, object?[] values) => Serialize(columns, values, null);

    /// <param name="columns">Recipient column names.</param>
    /// <param name="values">Values in column order (may be shorter: missing values are left out).</param>
    /// <param name="dataSets">Joined data sets by name: a <see cref="IReadOnlyDictionary{TKey,TValue}"/> record, a list of
    /// records, or null (no match). Written after the fields, in the order given.</param>
    public static byte[] Serialize(IReadOnlyList<string> columns, object?[] values, IEnumerable<KeyValuePair<string, object?>>? dataSets)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        Write(buffer, columns, values, dataSets);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes the context into <paramref name="output"/> (for callers that pool buffers).</summary>
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<string> columns, object?[] values, IEnumerable<KeyValuePair<string, object?>>? dataSets = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(values);
        using var writer = new Utf8JsonWriter(output, Options);
        writer.WriteStartObject();
        var count = Math.Min(columns.Count, values.Length);
        for (var i = 0; i < count; i++)
        {
            writer.WritePropertyName(columns[i]);
            WriteValue(writer, values[i], 0);
        }

        if (dataSets is not null)
        {
            foreach (var (name, value) in dataSets)
            {
                writer.WritePropertyName(name);
                WriteValue(writer, value, 0);
            }
        }

        writer.WriteEndObject();
    }

    /// <summary>Writes one context value (scalars, lists, nested objects with sorted keys).</summary>
    internal static void WriteValue(Utf8JsonWriter writer, object? value) => WriteValue(writer, value, 0);

    private static void WriteValue(Utf8JsonWriter writer, object? value, int depth)
    {
        if (depth > 32)
        {
            throw new ArgumentException("The render context is nested too deeply.");
        }

        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case int n:
                writer.WriteNumberValue(n);
                break;
            case double d:
                if (double.IsFinite(d))
                {
                    writer.WriteNumberValue(d);
                }
                else
                {
                    writer.WriteNullValue();
                }

                break;
            case float f:
                WriteValue(writer, (double)f, depth);
                break;
            case decimal m:
                writer.WriteNumberValue(m);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case DateTimeOffset dto:
                writer.WriteStringValue(dto.ToString("O", CultureInfo.InvariantCulture));
                break;
            case DateTime dt:
                writer.WriteStringValue(dt.ToString("O", CultureInfo.InvariantCulture));
                break;
            case IEnumerable<KeyValuePair<string, object?>> map:
                // Any string-keyed dictionary, read-only or not; keys sorted so the bytes never depend on insertion order.
                writer.WriteStartObject();
                foreach (var (key, item) in map.OrderBy(pair => pair.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, item, depth + 1);
                }

                writer.WriteEndObject();
                break;
            case IEnumerable list:
                writer.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(writer, item, depth + 1);
                }

                writer.WriteEndArray();
                break;
            case IFormattable formattable:
                writer.WriteStringValue(formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                writer.WriteStringValue(value.ToString());
                break;
        }
    }
}
