using System.Text;
using Herald.Bounces;

namespace Herald.Core.Tests.Bounces;

public sealed class MboxReaderTests
{
    [Fact]
    public void An_mbox_splits_at_from_lines_after_an_empty_line_and_unescapes_quoted_ones()
    {
        var mbox = """
            From MAILER-DAEMON Mon Mar  2 09:14:07 2026
            Subject: one

            body one
            >From the archive, quoted
            >>From twice quoted

            From MAILER-DAEMON Mon Mar  2 09:15:07 2026
            Subject: two

            body two
            From here on (not a separator: no empty line before)

            From MAILER-DAEMON Mon Mar  2 09:16:07 2026
            Subject: three

            body three
            """.ReplaceLineEndings("\n");

        var messages = MboxReader.Read(new MemoryStream(Encoding.ASCII.GetBytes(mbox)), 1 << 20).ToList();

        Assert.Equal(3, messages.Count);
        Assert.Equal("Subject: one\n\nbody one\nFrom the archive, quoted\n>From twice quoted\n", Encoding.ASCII.GetString(messages[0].Data));
        Assert.Contains("From here on", Encoding.ASCII.GetString(messages[1].Data), StringComparison.Ordinal);
        Assert.Equal("Subject: three\n\nbody three", Encoding.ASCII.GetString(messages[2].Data));
        Assert.Equal([1, 2, 3], messages.Select(m => m.Number));
        Assert.All(messages, m => Assert.False(m.Truncated));
    }

    [Fact]
    public void A_message_past_the_limit_is_cut_and_flagged_and_the_next_one_is_whole()
    {
        var big = string.Concat(Enumerable.Repeat("0123456789012345678901234567890123456789\n", 100));
        var mbox = $"From a\nSubject: big\n\n{big}\nFrom b\nSubject: small\n\nok\n";

        var messages = MboxReader.Read(new MemoryStream(Encoding.ASCII.GetBytes(mbox)), 1000).ToList();

        Assert.Equal(2, messages.Count);
        Assert.True(messages[0].Truncated);
        Assert.True(messages[0].Data.Length <= 1000);
        Assert.False(messages[1].Truncated);
        Assert.Equal("Subject: small\n\nok\n", Encoding.ASCII.GetString(messages[1].Data));
    }
}
