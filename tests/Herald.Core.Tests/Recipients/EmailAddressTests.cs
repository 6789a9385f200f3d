using Herald.Recipients;

namespace Herald.Core.Tests.Recipients;

public class EmailAddressTests
{
    [Theory]
    [InlineData("  Ann@Example.COM ", "Ann@example.com")]
    [InlineData("a.b+tag@sub.example.org", "a.b+tag@sub.example.org")]
    [InlineData("user@bücher.example", "user@xn--bcher-kva.example")]
    [InlineData("o'brien@example.com", "o'brien@example.com")]
    public void TryNormalize_trims_lowercases_the_domain_and_converts_idn(string raw, string expected)
    {
        Assert.True(EmailAddress.TryNormalize(raw, out var normalized, out var error), error);
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("", "empty address")]
    [InlineData("no-at-sign.example.com", "missing @")]
    [InlineData("@example.com", "empty local part")]
    [InlineData("a@", "empty domain")]
    [InlineData("a b@example.com", "contains a space")]
    [InlineData("a@example.com\r\nBcc: x@evil.example", "contains a line break")]
    [InlineData("a@localhost", "domain has no dot")]
    [InlineData("a@exa_mple.com", "invalid character '_' in domain")]
    [InlineData("a@-example.com", "domain label starts or ends with '-'")]
    [InlineData("a@example..com", "empty label in domain")]
    [InlineData("a@[127.0.0.1]", "address literals ([1.2.3.4]) are not accepted")]
    [InlineData(".a@example.com", "misplaced dot in local part")]
    [InlineData("a..b@example.com", "misplaced dot in local part")]
    [InlineData("\"a\"@example.com", "invalid character '\"' in local part")]
    [InlineData("jos\u00e9@example.com", "non-ASCII local part")]
    [InlineData("a@1.2.3.4", "numeric top-level domain")]
    public void TryNormalize_rejects_undeliverable_addresses(string raw, string reason)
    {
        Assert.False(EmailAddress.TryNormalize(raw, out _, out var error));
        Assert.Equal(reason, error);
    }

    [Fact]
    public void TryNormalize_rejects_overlong_parts()
    {
        Assert.False(EmailAddress.TryNormalize(new string('a', 65) + "@example.com", out _, out var local));
        Assert.Equal("local part longer than 64 characters", local);
        Assert.False(EmailAddress.TryNormalize("a@" + new string('b', 64) + ".com", out _, out var label));
        Assert.Equal("domain label longer than 63 characters", label);
    }
}
