namespace Herald.Data;

/// <summary>One data row of a table file, values in the order of <see cref="ITableReader.Columns"/>.</summary>
/// <param name="Row">Where the row is, for messages: CSV and JSONL the 1-based line it starts on (a CSV header is line 1), Parquet the row index + 1.</param>
/// <param name="Values">string, long, double, bool, DateTimeOffset, null, or (JSONL) nested lists and dictionaries.</param>
public readonly record struct DataRecord(int Row, object?[] Values);

/// <summary>
/// Streams the rows of a CSV, JSONL or Parquet file without loading it whole. Malformed input throws
/// <see cref="CampaignException"/> naming the file and row.
/// </summary>
public interface ITableReader : IDisposable
{
    /// <summary>The file, as given.</summary>
    string Path { get; }

    /// <summary>Column names. For JSONL the reader may grow this list as new keys appear; values of rows read
    /// earlier are then shorter than <see cref="Columns"/> (missing trailing values are null).</summary>
    IReadOnlyList<string> Columns { get; }

    /// <summary>Reads the rows in file order; each is read once.</summary>
    IEnumerable<DataRecord> ReadRows(CancellationToken cancellationToken = default);
}
