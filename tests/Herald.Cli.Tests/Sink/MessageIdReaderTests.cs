using System.Buffers;
using System.Text;
using Herald.Cli.Sink;

namespace Herald.Cli.Tests.Sink;

public sealed class MessageIdReaderTests
{
    [Theory]
    [InlineData("From: a@b\r\nMessage-ID: <x@y>\r\n\r\nbody", "<x@y>")]
    [InlineData("message-id:<x@y>\r\nSubject: s\r\n\r\n", "<x@y>")]
    [InlineData("Subject: s\r\nMessage-Id:\r\n <folded@y>\r\nTo: c@d\r\n\r\n", "<folded@y>")]
    public void Find_reads_the_header_value(string message, string expected) =>
        Assert.Equal(expected, MessageIdReader.Find(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(message))));

    [Theory]
    [InlineData("From: a@b\r\n\r\nMessage-ID: <in-body@y>\r\n")]
    [InlineData("X-Message-ID: <other@y>\r\n\r\n")]
    [InlineData("")]
    public void Find_returns_null_without_a_message_id_header(string message) =>
        Assert.Null(MessageIdReader.Find(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(message))));
}
