using System.Text;
using Herald.Store;

namespace Herald.Core.Tests.Tracking;

public sealed class RecipientOrderTests
{
    [Fact]
    public void Order_is_the_byte_order_of_utf8()
    {
        var random = new Random(3);
        string[] pieces = ["a", "Z", "é", "\uE000", "😀", "ß", "0", "\uFFFD", "中", "𝄞"];
        var ids = Enumerable.Range(0, 2_000).Select(_ => string.Concat(Enumerable.Range(0, random.Next(0, 4)).Select(_ => pieces[random.Next(pieces.Length)]))).ToList();

        var ours = ids.Order(RecipientOrder.Instance).ToList();
        var bytes = ids.OrderBy(id => Encoding.UTF8.GetBytes(id), Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y))).ToList();

        Assert.Equal(bytes, ours);
    }
}
