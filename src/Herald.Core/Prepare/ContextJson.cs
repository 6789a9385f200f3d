using System.Collections;
using System.Globalization;
using System.Text.Json;

namespace Herald.Prepare;

/// <summary>
/// Writes table values into the render context the same way for every input format, so a CSV, a JSONL and a
/// Parquet file with the same content give the same plan bytes.
/// </summary>
internal static class ContextJson
{
    /// <summary>The writer options of <see cref="Rendering.RenderContextSerializer"/>: same bytes for the same values.</summary>
    public static readonly JsonWriterOptions Options = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>One value, exactly as the renderer's context serializer writes it.</summary>
    public static void WriteValue(Utf8JsonWriter json, object? value) => Herald.Rendering.RenderContextSerializer.WriteValue(json, value);

    /// <summary>Column names pre-encoded once per file, so each row does not escape them again.</summary>
    public sealed class Names
    {
        private readonly List<JsonEncodedText> _encoded = [];

        public JsonEncodedText this[IReadOnlyList<string> columns, int index]
        {
            get
            {
                while (_encoded.Count <= index)
                {
                    _encoded.Add(JsonEncodedText.Encode(columns[_encoded.Count], Options.Encoder));
                }

                return _encoded[index];
            }
        }
    }
}

/// <summary>How join keys and <c>order_by</c> values compare across formats.</summary>
internal static class JoinKeys
{
    /// <summary>
    /// The canonical text of a key: text as is (trimmed), whole numbers in invariant decimal. So <c>42</c> in a
    /// Parquet int column matches <c>"42"</c> in a CSV. Returns null for an empty key; throws for a value that
    /// cannot be a key.
    /// </summary>
    public static string? Canonical(object? value, string file, int row, string column)
    {
        switch (value)
        {
            case null:
                return null;
            case string s:
                s = s.Trim();
                return s.Length == 0 ? null : s;
            case long l:
                return l.ToString(CultureInfo.InvariantCulture);
            case int i:
                return i.ToString(CultureInfo.InvariantCulture);
            case double d when double.IsFinite(d) && Math.Floor(d) == d && Math.Abs(d) < 9e15:
                return ((long)d).ToString(CultureInfo.InvariantCulture);
            default:
                throw new CampaignException(new Problem(file, row, 0,
                    $"key column '{column}' holds {Describe(value)}; keys must be text or whole numbers", IsRow: true));
        }
    }

    public static string Describe(object? value) => value switch
    {
        null => "nothing",
        string => "text",
        long or int => "a whole number",
        double => "a number",
        bool => "a true/false value",
        DateTimeOffset => "a date",
        IDictionary or IReadOnlyDictionary<string, object?> => "an object",
        IEnumerable => "a list",
        _ => "a " + value.GetType().Name,
    };
}

/// <summary>
/// An <c>order_by</c> value reduced to something sortable: numbers (and text that reads as a number) by value,
/// dates by time, other text by ordinal UTF-8, empty last.
/// </summary>
internal readonly record struct OrderKey(OrderKind Kind, ulong Prefix, byte[]? Text)
{
    public static readonly OrderKey None = new(OrderKind.None, 0, null);

    public static OrderKey From(object? value, string file, int row, string column)
    {
        switch (value)
        {
            case null:
            case string { Length: 0 }:
                return new OrderKey(OrderKind.Empty, 0, null);
            case long l:
                return Number(l);
            case int i:
                return Number(i);
            case double d when !double.IsNaN(d):
                return Number(d);
            case string s when double.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var parsed):
                // CSV values are text: "10" must still sort after "9", as the number it is in JSONL or Parquet.
                return Number(parsed);
            case string s:
                var bytes = System.Text.Encoding.UTF8.GetBytes(s);
                Span<byte> prefix = stackalloc byte[8];
                prefix.Clear();
                bytes.AsSpan(0, Math.Min(8, bytes.Length)).CopyTo(prefix);
                return new OrderKey(OrderKind.Text, System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(prefix), bytes);
            case DateTimeOffset t:
                return Number(t.UtcTicks);
            default:
                throw new CampaignException(new Problem(file, row, 0,
                    $"order_by column '{column}' holds {JoinKeys.Describe(value)}; it must hold numbers, dates or text", IsRow: true));
        }
    }

    /// <summary>Maps a double onto an unsigned integer with the same order (IEEE 754 trick).</summary>
    private static OrderKey Number(double d)
    {
        var bits = (ulong)BitConverter.DoubleToInt64Bits(d == 0 ? 0.0 : d);
        bits = (bits & 0x8000_0000_0000_0000UL) != 0 ? ~bits : bits | 0x8000_0000_0000_0000UL;
        return new OrderKey(OrderKind.Number, bits, null);
    }
}

internal enum OrderKind : byte
{
    /// <summary>No order_by: file order.</summary>
    None = 0,
    Number = 1,
    Text = 2,

    /// <summary>Empty values sort after every other value.</summary>
    Empty = 3,
}
