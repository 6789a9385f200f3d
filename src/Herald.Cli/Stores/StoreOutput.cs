using System.Text.Json;
using System.Text.Json.Nodes;

namespace Herald.Cli.Stores;

/// <summary>How a command says which store it uses: the first line in text mode, a <c>store</c> field in JSON.</summary>
internal static class StoreOutput
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Adds <c>"store"</c> as the first field of a JSON object document.</summary>
    public static string WithStore(string json, StoreLocation location)
    {
        ArgumentNullException.ThrowIfNull(location);
        var document = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidOperationException("not a JSON object");
        document.Remove("store");
        document.Insert(0, "store", location.Display);
        return document.ToJsonString(Indented);
    }
}
