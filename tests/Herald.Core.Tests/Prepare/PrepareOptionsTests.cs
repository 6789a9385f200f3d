using Herald.Prepare;

namespace Herald.Core.Tests.Prepare;

public sealed class PrepareOptionsTests
{
    [Theory]
    [InlineData("512MB", 512L << 20)]
    [InlineData("1gb", 1L << 30)]
    [InlineData("64 KB", 64L << 10)]
    [InlineData("1.5G", 3L << 29)]
    [InlineData("1048576", 1L << 20)]
    public void TryParseSize_reads_binary_units(string text, long expected)
    {
        Assert.True(PrepareOptions.TryParseSize(text, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("-5MB")]
    [InlineData("0")]
    public void TryParseSize_rejects_what_is_not_a_size(string text) => Assert.False(PrepareOptions.TryParseSize(text, out _));
}
