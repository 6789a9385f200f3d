using Herald.Recipients;

namespace Herald.Core.Tests.Recipients;

public class RecipientIdsTests
{
    [Fact]
    public void For_uses_the_column_value_when_present()
    {
        Assert.Equal("cust-42", RecipientIds.For(" cust-42 ", "a@example.com"));
    }

    [Fact]
    public void For_hashes_the_normalized_email_stably()
    {
        var id = RecipientIds.For(null, "a@example.com");
        Assert.Equal(20, id.Length);
        Assert.Matches("^[0-9a-f]{20}$", id);
        Assert.Equal(id, RecipientIds.For("", "a@example.com"));
        Assert.NotEqual(id, RecipientIds.For(null, "b@example.com"));
        // SHA-256("a@example.com") starts with these bytes: the id must not change between versions.
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("a@example.com"u8))[..20], id);
    }
}
