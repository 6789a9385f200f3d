using Herald.Recipients;

namespace Herald.Core.Tests.Recipients;

public class EmailAddressTests
{
    [Theory]
    [InlineData("  Ann@Example.COM ", "Ann@example.com")]
    [InlineData("a.b+tag@sub.example.org", "a.b+tag@sub.example.org")]
    [InlineData("user@bücher.example", "user@xn--bcher-kva.example")]
    [InlineData("o'brien@example.com", "o'brien@example.com")]
    [InlineData("Zo\u00eb@Example.com", "Zo\u00eb@example.com")]
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
    [InlineData("jo\u200Ds\u00e9@example.com", "invalid character in local part")]
    [InlineData("zoe@b\u00fc\u200Dcher.example", "invalid international domain name")]
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

    [Theory]
    [InlineData("zoe@B\u00dcCHER.example")]
    [InlineData("zoe@bu\u0308cher.example")]
    [InlineData("zoe@b\u00fccher.example")]
    [InlineData("zoe@\uFF42\u00fc\uFF43\uFF48\uFF45\uFF52.example")]
    [InlineData("zoe@b\u00fc\u200Bcher.example")]
    [InlineData("zoe@b\u00fccher\u3002example")]
    [InlineData("zoe@XN--BCHER-KVA.example")]
    public void Domains_are_normalized_by_UTS46_to_one_A_label(string raw)
    {
        Assert.True(EmailAddress.HasUts46, "this process has no ICU: IDNA would be wrong");
        Assert.True(EmailAddress.TryNormalize(raw, out var normalized, out var error), error);
        Assert.Equal("zoe@xn--bcher-kva.example", normalized);
    }

    [Fact]
    public void An_invalid_punycode_label_is_rejected()
    {
        Assert.False(EmailAddress.TryNormalize("a@xn--a.example", out _, out var error));
        Assert.Equal("invalid international domain name", error);
    }

    [Theory]
    [InlineData("Zoe.Smith@example.com", false, "zoe.smith@example.com")]
    [InlineData("Zoe.Smith@example.com", true, "Zoe.Smith@example.com")]
    [InlineData("zoe@example.com", false, "zoe@example.com")]
    [InlineData("ZO\u00cb@example.com", false, "zo\u00eb@example.com")]
    [InlineData("ZOE\u0308@example.com", false, "zo\u00eb@example.com")]
    public void The_comparison_key_folds_the_local_part_unless_case_sensitive(string address, bool caseSensitive, string key) =>
        Assert.Equal(key, EmailAddress.ComparisonKey(address, caseSensitive));
}
