using Herald.Rendering;
using MimeKit.Utils;

namespace Herald.Core.Tests.Rendering;

public class MessageIdsTests
{
    [Fact]
    public void Create_is_deterministic_per_campaign_and_recipient()
    {
        var id = MessageIds.Create("spring.2026", "r1", "Shop.Example.com");
        Assert.Equal(id, MessageIds.Create("spring.2026", "r1", "shop.example.com"));
        Assert.NotEqual(id, MessageIds.Create("spring.2026", "r2", "shop.example.com"));
        Assert.NotEqual(id, MessageIds.Create("autumn", "r1", "shop.example.com"));
        Assert.EndsWith("@shop.example.com", id, StringComparison.Ordinal);
        Assert.StartsWith("spring-2026.", id, StringComparison.Ordinal);
        Assert.Equal(id, MimeUtils.ParseMessageId($"<{id}>"));
    }
}
