using System.Text.Json;
using Fluid;
using Fluid.Values;

namespace Herald.Rendering;

/// <summary>The Liquid context of one message: the recipient's values plus what the tracking filter needs.</summary>
internal sealed class RenderState : TemplateContext
{
    public RenderState(TemplateOptions options, CompiledCampaign campaign, string recipientId, int links)
        : base(options)
    {
        Campaign = campaign;
        RecipientId = recipientId;
        StaticLinks = links == 0 ? [] : new string?[links + 1];
    }

    public CompiledCampaign Campaign { get; }

    public string RecipientId { get; }

    /// <summary>True while rendering the HTML body: captured link targets are then HTML-encoded and must be decoded.</summary>
    public bool HtmlMode { get; set; }

    /// <summary>Tracked URLs of static links, made once per message (the HTML and text parts share them).</summary>
    public string?[] StaticLinks { get; }

    /// <summary>Tracked URLs of personalized links, keyed by link number and target: the text part reuses the HTML part's.</summary>
    public Dictionary<(int Link, string Target), string>? DynamicLinks { get; set; }

    /// <summary>Sets every top-level field of the UTF-8 JSON object <paramref name="json"/> as a variable.</summary>
    public void Load(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty)
        {
            return;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new FormatException("The render context is not a JSON object.");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            SetValue(name, ReadValue(ref reader));
        }
    }

    private static FluidValue ReadValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return new StringValue(reader.GetString()!);
            case JsonTokenType.Number:
                return reader.TryGetDecimal(out var d) ? NumberValue.Create(d) : NumberValue.Create((decimal)Math.Clamp(reader.GetDouble(), (double)decimal.MinValue, (double)decimal.MaxValue));
            case JsonTokenType.True:
                return BooleanValue.True;
            case JsonTokenType.False:
                return BooleanValue.False;
            case JsonTokenType.StartArray:
                var list = new List<FluidValue>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    list.Add(ReadValue(ref reader));
                }

                return new ArrayValue(list);
            case JsonTokenType.StartObject:
                var map = new Dictionary<string, FluidValue>(StringComparer.Ordinal);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    map[name] = ReadValue(ref reader);
                }

                return new DictionaryValue(new FluidValueDictionaryFluidIndexable(map));
            default:
                return NilValue.Instance;
        }
    }
}
