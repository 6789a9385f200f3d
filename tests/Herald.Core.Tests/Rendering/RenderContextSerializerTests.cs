using System.Text;
using Herald.Rendering;

namespace Herald.Core.Tests.Rendering;

public class RenderContextSerializerTests
{
    [Fact]
    public void Serialize_writes_a_compact_json_object_of_fields_then_data_sets()
    {
        var products = new List<object?> { new Dictionary<string, object?> { ["z"] = 1L, ["a"] = "é" } };
        var bytes = RenderContextSerializer.Serialize(["email", "n", "ok", "none"], ["a@example.com", 2.5, true, null], [new("products", products), new("profile", null)]);
        Assert.Equal("{\"email\":\"a@example.com\",\"n\":2.5,\"ok\":true,\"none\":null,\"products\":[{\"a\":\"é\",\"z\":1}],\"profile\":null}", Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void Serialize_is_deterministic()
    {
        var a = new Dictionary<string, object?> { ["b"] = 1L, ["a"] = 2L };
        var b = new Dictionary<string, object?> { ["a"] = 2L, ["b"] = 1L };
        Assert.Equal(RenderContextSerializer.Serialize(["x"], [a]), RenderContextSerializer.Serialize(["x"], [b]));
        Assert.Equal(RenderContextSerializer.Serialize(["x", "y"], ["1", "<&>"]), RenderContextSerializer.Serialize(["x", "y"], ["1", "<&>"]));
    }

    [Fact]
    public void Serialize_leaves_out_missing_trailing_values()
    {
        Assert.Equal("{\"a\":\"1\"}", Encoding.UTF8.GetString(RenderContextSerializer.Serialize(["a", "b"], ["1"])));
    }
}
