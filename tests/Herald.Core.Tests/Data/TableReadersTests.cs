using Herald.Data;

namespace Herald.Core.Tests.Data;

public class TableReadersTests
{
    [Fact]
    public void Csv_streams_rows_with_header_columns_and_quoted_fields()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "email,first_name,note\na@example.com,Ann,\"hello, \"\"world\"\"\nsecond line\"\nb@example.com,Bob,\n");
        using var reader = TableReaders.Open(path);
        Assert.Equal(["email", "first_name", "note"], reader.Columns);
        var rows = reader.ReadRows(TestContext.Current.CancellationToken).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(2, rows[0].Row);
        Assert.Equal("hello, \"world\"\nsecond line", rows[0].Values[2]);
        // The first record spans two lines: the second starts on line 4.
        Assert.Equal(4, rows[1].Row);
        Assert.Equal("", rows[1].Values[2]);
    }

    [Fact]
    public void Csv_reports_a_ragged_row_with_its_number()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "email,name\na@example.com,Ann\nb@example.com,Bob,extra\n");
        using var reader = TableReaders.Open(path);
        var ex = Assert.Throws<CampaignException>(() => reader.ReadRows(TestContext.Current.CancellationToken).ToList());
        var problem = Assert.Single(ex.Problems);
        Assert.True(problem.IsRow);
        Assert.Equal(3, problem.Line);
        Assert.EndsWith("r.csv:3: ragged row: 3 fields, the header has 2", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_reports_every_ragged_row_at_its_physical_line()
    {
        using var files = new TestFiles();
        // Line 1 header; 2-3 one record with a quoted line break; 4 ragged; 5 blank; 6 fine; 7 ragged.
        var path = files.Write("r.csv", "email,name\na@example.com,\"Ann\nSmith\"\nb@example.com,Bob,extra\n\nc@example.com,Cy\nd@example.com\n");
        using var reader = TableReaders.Open(path);
        var ex = Assert.Throws<CampaignException>(() => reader.ReadRows(TestContext.Current.CancellationToken).ToList());
        Assert.Equal([4, 7], ex.Problems.Select(p => p.Line));
        Assert.All(ex.Problems, p => Assert.Contains("ragged row", p.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_semicolon_separated_file_gets_a_hint()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "email;name\na@example.com;Ann\n");
        var ex = Assert.Throws<CampaignException>(() => Herald.Recipients.RecipientList.Open(path).Dispose());
        Assert.Contains("seems to use ';'", Assert.Single(ex.Problems).Message, StringComparison.Ordinal);

        var capital = files.Write("c.csv", "Email,name\na@example.com,Ann\n");
        ex = Assert.Throws<CampaignException>(() => Herald.Recipients.RecipientList.Open(capital).Dispose());
        Assert.Contains("rename 'Email' to 'email'", Assert.Single(ex.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_reports_unbalanced_quotes()
    {
        using var files = new TestFiles();
        var path = files.Write("r.csv", "email,name\na@example.com,Ann\nb@example.com,\"Bob\nc@example.com,Cy\n");
        using var reader = TableReaders.Open(path);
        var ex = Assert.Throws<CampaignException>(() => reader.ReadRows(TestContext.Current.CancellationToken).ToList());
        var problem = Assert.Single(ex.Problems);
        Assert.True(problem.IsRow);
        Assert.Equal(3, problem.Line);
        Assert.Contains("r.csv:", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_rejects_non_utf8_bytes()
    {
        using var files = new TestFiles();
        var path = files.WriteBytes("r.csv", [.. "email,name\na@example.com,Ren"u8, 0xE9, .. "\n"u8]);
        // Detected while the reader fills its first buffer, or while reading rows: either way a clear error.
        var ex = Assert.Throws<CampaignException>(() =>
        {
            using var reader = TableReaders.Open(path);
            _ = reader.ReadRows(TestContext.Current.CancellationToken).ToList();
        });
        Assert.Contains("not valid UTF-8", Assert.Single(ex.Problems).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_rejects_duplicate_and_empty_header_names()
    {
        using var files = new TestFiles();
        var dup = files.Write("d.csv", "email,email\na,b\n");
        Assert.Contains("appears twice", Assert.Throws<CampaignException>(() => TableReaders.Open(dup)).Message, StringComparison.Ordinal);
        var empty = files.Write("e.csv", "email,,x\na,b,c\n");
        Assert.Contains("has no name", Assert.Throws<CampaignException>(() => TableReaders.Open(empty)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_rejects_empty_missing_and_unknown_files()
    {
        using var files = new TestFiles();
        var empty = files.Write("e.csv", "");
        Assert.EndsWith("e.csv: the file is empty", Assert.Throws<CampaignException>(() => TableReaders.Open(empty)).Message, StringComparison.Ordinal);
        Assert.EndsWith("nope.jsonl: file not found", Assert.Throws<CampaignException>(() => TableReaders.Open(Path.Combine(files.Root, "nope.jsonl"))).Message, StringComparison.Ordinal);
        var xlsx = files.Write("r.xlsx", "x");
        Assert.Contains("unsupported file type '.xlsx'", Assert.Throws<CampaignException>(() => TableReaders.Open(xlsx)).Message, StringComparison.Ordinal);
        Assert.True(TableReaders.IsSupported("a.CSV"));
        Assert.False(TableReaders.IsSupported("a.txt"));
    }

    [Fact]
    public void Jsonl_reads_objects_growing_columns_and_nested_values()
    {
        using var files = new TestFiles();
        var path = files.Write("r.jsonl", "{\"email\":\"a@example.com\",\"n\":3}\n\n{\"email\":\"b@example.com\",\"tags\":[\"x\",1.5],\"p\":{\"k\":true},\"z\":null}\r\n");
        using var reader = TableReaders.Open(path);
        var rows = reader.ReadRows(TestContext.Current.CancellationToken).ToList();
        Assert.Equal(["email", "n", "tags", "p", "z"], reader.Columns);
        Assert.Equal(1, rows[0].Row);
        Assert.Equal(3L, rows[0].Values[1]);
        Assert.Equal(2, rows[0].Values.Length);
        Assert.Equal(3, rows[1].Row);
        Assert.Equal(new List<object?> { "x", 1.5 }, rows[1].Values[2]);
        Assert.Equal(true, ((Dictionary<string, object?>)rows[1].Values[3]!)["k"]);
        Assert.Null(rows[1].Values[4]);
    }

    [Theory]
    [InlineData("{\"email\":\"a@example.com\"}\n{\"email\": \"b@example.com\",\n", 2)]
    [InlineData("{\"email\":\"a@example.com\"}\n[1,2]\n", 2)]
    [InlineData("{\"a\":1} {\"b\":2}\n", 1)]
    public void Jsonl_reports_a_malformed_line(string content, int line)
    {
        using var files = new TestFiles();
        var path = files.Write("r.jsonl", content);
        using var reader = TableReaders.Open(path);
        var ex = Assert.Throws<CampaignException>(() => reader.ReadRows(TestContext.Current.CancellationToken).ToList());
        var problem = Assert.Single(ex.Problems);
        Assert.Equal(line, problem.Line);
        Assert.StartsWith($"{problem.File}:{line}", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Jsonl_rejects_non_utf8_and_blank_files()
    {
        using var files = new TestFiles();
        var bad = files.WriteBytes("b.jsonl", [.. "{\"email\":\"a@example.com\"}\n{\"n\":\""u8, 0xC3, 0x28, .. "\"}\n"u8]);
        using (var reader = TableReaders.Open(bad))
        {
            var ex = Assert.Throws<CampaignException>(() => reader.ReadRows(TestContext.Current.CancellationToken).ToList());
            Assert.Equal(2, Assert.Single(ex.Problems).Line);
            Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);
        }

        var blank = files.Write("blank.jsonl", "\n  \n");
        using (var reader = TableReaders.Open(blank))
        {
            Assert.Contains("no records", Assert.Throws<CampaignException>(() => reader.ReadRows(TestContext.Current.CancellationToken).ToList()).Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Jsonl_reads_lines_longer_than_the_buffer()
    {
        using var files = new TestFiles();
        var big = new string('x', 200_000);
        var path = files.Write("r.jsonl", $"{{\"email\":\"a@example.com\",\"big\":\"{big}\"}}\n{{\"email\":\"b@example.com\"}}");
        using var reader = TableReaders.Open(path);
        var rows = reader.ReadRows(TestContext.Current.CancellationToken).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(big, rows[0].Values[1]);
        Assert.Equal("b@example.com", rows[1].Values[0]);
    }
}
