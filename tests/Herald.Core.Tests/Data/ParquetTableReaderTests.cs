using Herald.Data;
using Parquet;
using Parquet.Schema;

namespace Herald.Core.Tests.Data;

public sealed class ParquetTableReaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "herald-parquet-tests", Guid.NewGuid().ToString("N"));

    public ParquetTableReaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Reads_typed_columns_across_row_groups_with_row_numbers_and_nulls()
    {
        var path = Path.Combine(_dir, "t.parquet");
        var schema = new ParquetSchema(
            new DataField<long>("id"), new DataField<string>("name"), new DataField<double?>("price"), new DataField<bool>("vip"), new DataField<int>("n"));
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream, cancellationToken: TestContext.Current.CancellationToken))
        {
            for (var g = 0; g < 2; g++)
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync<long>((DataField)schema[0], new long[] { 10 + g, 20 + g }.AsMemory(), null, null, TestContext.Current.CancellationToken);
                await group.WriteAsync((DataField)schema[1], new[] { $"a{g}", $"b{g}" }, null);
                await group.WriteAsync<double>((DataField)schema[2], new double?[] { 1.5, null }.AsMemory(), null, null, TestContext.Current.CancellationToken);
                await group.WriteAsync<bool>((DataField)schema[3], new[] { true, false }.AsMemory(), null, null, TestContext.Current.CancellationToken);
                await group.WriteAsync<int>((DataField)schema[4], new[] { 7, 8 }.AsMemory(), null, null, TestContext.Current.CancellationToken);
            }
        }

        using var reader = TableReaders.Open(path);
        var rows = reader.ReadRows(TestContext.Current.CancellationToken).ToList();

        Assert.Equal(["id", "name", "price", "vip", "n"], reader.Columns);
        Assert.Equal([1, 2, 3, 4], rows.Select(r => r.Row));
        Assert.Equal(new object?[] { 10L, "a0", 1.5, true, 7L }, rows[0].Values);
        Assert.Equal(new object?[] { 21L, "b1", null, false, 8L }, rows[3].Values);
    }

    [Fact]
    public void Reports_a_file_that_is_not_parquet_as_a_campaign_problem()
    {
        var path = Path.Combine(_dir, "bad.parquet");
        File.WriteAllText(path, "id,name\n1,not parquet\n");

        var ex = Assert.Throws<CampaignException>(() => TableReaders.Open(path));

        Assert.Contains("not a readable Parquet file", ex.Problems[0].Message, StringComparison.Ordinal);
    }
}
