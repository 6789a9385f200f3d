using Herald.Delivery;

namespace Herald.Core.Tests.Delivery;

public sealed class ReplyCodeFilterTests
{
    [Theory]
    [InlineData("530", 530, "530 5.7.0 Authentication required", true)]
    [InlineData("530", 535, "535 5.7.8 authentication failed", false)]
    [InlineData("53x", 535, "535 5.7.8 authentication failed", true)]
    [InlineData("5xx", 554, "554 rejected", true)]
    [InlineData("5xx", 451, "451 4.3.0 later", false)]
    [InlineData("5.7.0", 530, "530 5.7.0 Authentication required", true)]
    [InlineData("5.7.x", 554, "554 5.7.1 blocked", true)]
    [InlineData("5.7.x", 550, "550 5.1.1 no such user", false)]
    [InlineData("5.x.x", 550, "gave up after 3 attempts: 550 5.1.1 no such user", true)]
    [InlineData("530,5.1.1", 550, "550 5.1.1 no such user", true)]
    [InlineData(" 55X , 421", 421, "421 4.7.0 closing", true)]
    [InlineData("5.7.0", null, "connection lost (before the final dot: not delivered)", false)]
    [InlineData("4xx", null, "gave up after 5 attempts: 451 4.3.0 later", false)]
    public void Matches_basic_and_enhanced_codes(string list, int? code, string text, bool expected)
    {
        Assert.True(ReplyCodeFilter.TryParse(list, out var filter, out var error), error);
        Assert.Equal(expected, filter.Matches(code, text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("2xx")]
    [InlineData("5.7")]
    [InlineData("5.7.1.2")]
    [InlineData("smtp")]
    public void Rejects_what_is_not_a_code(string list)
    {
        Assert.False(ReplyCodeFilter.TryParse(list, out _, out var error));
        Assert.StartsWith("--code: ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("530 5.7.0 Authentication required", 530, "5.7.0")]
    [InlineData("5.7.1 rejected as spam", 554, "5.7.1")]
    [InlineData("550 #5.1.0 Address rejected", 550, "5.1.0")]
    [InlineData("gave up after 3 attempts: 450 4.2.1 greylisted", 450, "4.2.1")]
    [InlineData("250 2.0.0 Ok: queued as 4XyZ12 from 5.6.7.8", 250, "2.0.0")]
    public void Enhanced_status_codes_are_found_in_reply_texts(string text, int code, string expected)
    {
        Assert.Equal(expected, EnhancedStatusCode.Find(text, code)?.ToString());
    }

    [Theory]
    [InlineData("554 relay 192.168.5.1.2 said no", 554)]
    [InlineData("421 too busy", 421)]
    [InlineData("550 4.2.1 mismatched class", 550)]
    public void No_enhanced_code_where_there_is_none(string text, int code) => Assert.Null(EnhancedStatusCode.Find(text, code));
}
