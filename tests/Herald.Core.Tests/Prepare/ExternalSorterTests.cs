using System.Text;
using Herald.Prepare;

namespace Herald.Core.Tests.Prepare;

public sealed class ExternalSorterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "herald-sorter-tests", Guid.NewGuid().ToString("N"));

    public ExternalSorterTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<(int Group, int Row, string Payload)> Drain(ExternalSorter sorter)
    {
        var result = new List<(int, int, string)>();
        using var cursor = sorter.Complete();
        while (cursor.MoveNext())
        {
            result.Add((cursor.Group, cursor.Row, Encoding.UTF8.GetString(cursor.Payload)));
        }

        return result;
    }

    [Fact]
    public void Sorts_by_group_order_and_row_when_spilling_to_many_runs()
    {
        var random = new Random(3);
        var items = Enumerable.Range(1, 20_000).Select(row => (Group: random.Next(500), Rank: random.Next(10), Row: row)).ToList();
        using var sorter = new ExternalSorter(64 * 1024, _dir, limit: 0);
        foreach (var (group, rank, row) in items)
        {
            sorter.Add(group, row, OrderKey.From((long)rank, "f", row, "rank"), Encoding.UTF8.GetBytes($"{{\"row\":{row}}}"));
        }

        var sorted = Drain(sorter);

        Assert.True(sorter.SpilledRuns > 5, $"only {sorter.SpilledRuns} runs");
        var expected = items.OrderBy(i => i.Group).ThenBy(i => i.Rank).ThenBy(i => i.Row).Select(i => (i.Group, i.Row, $"{{\"row\":{i.Row}}}"));
        Assert.Equal(expected, sorted);
    }

    [Fact]
    public void Keeps_at_most_limit_items_per_group_across_runs()
    {
        using var sorter = new ExternalSorter(64 * 1024, _dir, limit: 2);
        for (var row = 1; row <= 9000; row++)
        {
            sorter.Add(row % 3, row, OrderKey.None, Encoding.UTF8.GetBytes(new string('x', 40)));
        }

        var sorted = Drain(sorter);

        Assert.True(sorter.SpilledRuns > 1);
        Assert.Equal([(0, 3), (0, 6), (1, 1), (1, 4), (2, 2), (2, 5)], sorted.GroupBy(s => s.Group).SelectMany(g => g.Take(2)).Select(s => (s.Group, s.Row)));
        Assert.All(sorted.GroupBy(s => s.Group), g => Assert.True(g.Count() <= 2 * (sorter.SpilledRuns + 1)));
    }

    [Fact]
    public void Orders_text_by_ordinal_bytes_beyond_the_eight_byte_prefix_and_empty_last()
    {
        using var sorter = new ExternalSorter(1 << 20, _dir, limit: 0);
        string?[] values = ["prefix-same-b", null, "prefix-same-a", "a"];
        for (var i = 0; i < values.Length; i++)
        {
            sorter.Add(0, i + 1, OrderKey.From(values[i], "f", i + 1, "name"), Encoding.UTF8.GetBytes(values[i] ?? "empty"));
        }

        Assert.Equal(["a", "prefix-same-a", "prefix-same-b", "empty"], Drain(sorter).Select(s => s.Payload));
    }
}
