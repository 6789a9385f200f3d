using System.Text;
using Herald.Delivery;

namespace Herald.Core.Tests.Delivery;

public sealed class PhaseTrackingLoggerTests
{
    [Fact]
    public void Final_dot_is_seen_when_it_ends_a_write()
    {
        var logger = new PhaseTrackingLogger();
        var fired = 0;
        logger.FinalDotWritten = () => fired++;

        Write(logger, "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n");
        Write(logger, "DATA\r\n");
        Write(logger, "Subject: x\r\n\r\nbody\r\n");
        Assert.False(logger.IsFinalDotWritten);
        Write(logger, ".\r\n");

        Assert.True(logger.IsFinalDotWritten);
        Assert.Equal(1, fired);
    }

    [Fact]
    public void Final_dot_split_across_tiny_writes_is_seen()
    {
        var logger = new PhaseTrackingLogger();
        foreach (var piece in new[] { "body", "\r", "\n", ".", "\r", "\n" })
        {
            Assert.False(logger.IsFinalDotWritten);
            Write(logger, piece);
        }

        Assert.True(logger.IsFinalDotWritten);
    }

    [Fact]
    public void A_dot_stuffed_line_is_not_the_final_dot_and_reset_starts_over()
    {
        var logger = new PhaseTrackingLogger();
        Write(logger, "line\r\n..\r\nmore\r\n");
        Assert.False(logger.IsFinalDotWritten);

        Write(logger, ".\r\n");
        Assert.True(logger.IsFinalDotWritten);
        logger.Reset();
        Assert.False(logger.IsFinalDotWritten);
        Write(logger, "MAIL FROM:<a@b.example>\r\n");
        Assert.False(logger.IsFinalDotWritten);
    }

    private static void Write(PhaseTrackingLogger logger, string text)
    {
        var bytes = Encoding.ASCII.GetBytes("##" + text);
        logger.LogClient(bytes, 2, bytes.Length - 2);
    }
}
