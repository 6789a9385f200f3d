using Parquet;
using Parquet.Schema;

namespace Herald.Data;

/// <summary>
/// Streams a Parquet file one row group at a time: memory is bounded by the largest row group, never the file.
/// Flat columns only; values come out as the <see cref="DataRecord"/> contract types (string, long, double, bool,
/// DateTimeOffset, null).
/// </summary>
public sealed class ParquetTableReader : ITableReader
{
    private readonly FileStream _stream;
    private readonly ParquetReader _reader;
    private readonly DataField[] _fields;

    // Column arrays are reused from one row group to the next: fresh ones per group would be large-object-heap
    // garbage, collected only by full GCs, and would double the reader's footprint on big files.
    private readonly Array?[] _buffers;

    /// <param name="fullPath">The file to open.</param>
    /// <param name="display">The path as shown in messages.</param>
    public ParquetTableReader(string fullPath, string display)
    {
        var path = display;
        Path = display;
        _stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            // The reader API is asynchronous only; a CLI has no synchronization context, so blocking here is safe.
            _reader = ParquetReader.CreateAsync(_stream, null, leaveStreamOpen: true).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (IsReadFailure(ex))
        {
            _stream.Dispose();
            throw Unreadable(path, ex);
        }

        var fields = new List<DataField>();
        foreach (var field in _reader.Schema.Fields)
        {
            if (field is not DataField data || data.IsArray)
            {
                _stream.Dispose();
                throw new CampaignException(new Problem(path, 0, 0,
                    $"column '{field.Name}' is nested (list, map or struct); only flat columns can be read"));
            }

            fields.Add(data);
        }

        _fields = [.. fields];
        _buffers = new Array?[_fields.Length];
        Columns = [.. fields.Select(f => f.Name)];
    }

    public string Path { get; }

    /// <summary>Uncompressed bytes of the largest row group: what one group costs in memory, give or take the .NET string overhead.</summary>
    public long LargestRowGroupBytes => _reader.Metadata?.RowGroups.Select(g => g.TotalByteSize).DefaultIfEmpty(0).Max() ?? 0;

    public IReadOnlyList<string> Columns { get; }

    public IEnumerable<DataRecord> ReadRows(CancellationToken cancellationToken = default)
    {
        long rowBase = 0;
        for (var g = 0; g < _reader.RowGroupCount; g++)
        {
            ColumnBuffer[] columns;
            int count;
            try
            {
                columns = ReadRowGroupAsync(g, cancellationToken).AsTask().GetAwaiter().GetResult();
                count = columns.Length == 0 ? 0 : columns[0].Count;
            }
            catch (Exception ex) when (IsReadFailure(ex))
            {
                throw Unreadable(Path, ex, rowBase + 1);
            }

            for (var r = 0; r < count; r++)
            {
                var values = new object?[columns.Length];
                for (var c = 0; c < columns.Length; c++)
                {
                    values[c] = columns[c].Get(r);
                }

                yield return new DataRecord(checked((int)(rowBase + r + 1)), values);
            }

            rowBase += count;
        }
    }

    public void Dispose()
    {
        _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stream.Dispose();
    }

    private async ValueTask<ColumnBuffer[]> ReadRowGroupAsync(int index, CancellationToken cancellationToken)
    {
        using var group = _reader.OpenRowGroupReader(index);
        var count = checked((int)group.RowCount);
        var columns = new ColumnBuffer[_fields.Length];
        for (var c = 0; c < _fields.Length; c++)
        {
            columns[c] = await ReadColumnAsync(group, _fields[c], count, c, cancellationToken).ConfigureAwait(false);
        }

        return columns;
    }

    private T[] Buffer<T>(int column, int count)
    {
        if (_buffers[column] is T[] existing && existing.Length >= count)
        {
            return existing;
        }

        var fresh = new T[count];
        _buffers[column] = fresh;
        return fresh;
    }

    private async ValueTask<ColumnBuffer> ReadColumnAsync(ParquetRowGroupReader group, DataField field, int count, int column, CancellationToken ct)
    {
        var type = field.ClrType;
        if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>))
        {
            var values = Buffer<string?>(column, count);
            await group.ReadAsync(field, values.AsMemory(0, count)!, null, ct).ConfigureAwait(false);
            return new ColumnBuffer<string?>(values, count, v => v);
        }

        if (type == typeof(byte[]) || type == typeof(ReadOnlyMemory<byte>))
        {
            var values = Buffer<byte[]?>(column, count);
            await group.ReadAsync(field, values.AsMemory(0, count)!, null, ct).ConfigureAwait(false);
            return new ColumnBuffer<byte[]?>(values, count, v => v is null ? null : Convert.ToBase64String(v));
        }

        return type switch
        {
            _ when type == typeof(long) => await ReadAsync<long>(group, field, count, column, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(int) => await ReadAsync<int>(group, field, count, column, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(short) => await ReadAsync<short>(group, field, count, column, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(sbyte) => await ReadAsync<sbyte>(group, field, count, column, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(byte) => await ReadAsync<byte>(group, field, count, column, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(ushort) => await ReadAsync<ushort>(group, field, count, column, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(uint) => await ReadAsync<uint>(group, field, count, column, v => (long)v, ct).ConfigureAwait(false),
            _ when type == typeof(ulong) => await ReadAsync<ulong>(group, field, count, column, v => v <= long.MaxValue ? (long)v : (double)v, ct).ConfigureAwait(false),
            _ when type == typeof(double) => await ReadAsync<double>(group, field, count, column, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(float) => await ReadAsync<float>(group, field, count, column, v => (double)v, ct).ConfigureAwait(false),
            _ when type == typeof(decimal) => await ReadAsync<decimal>(group, field, count, column, v => (double)v, ct).ConfigureAwait(false),
            _ when type == typeof(bool) => await ReadAsync<bool>(group, field, count, column, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(DateTime) => await ReadAsync<DateTime>(group, field, count, column, v => new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)), ct).ConfigureAwait(false),
            _ when type == typeof(DateTimeOffset) => await ReadAsync<DateTimeOffset>(group, field, count, column, v => v, ct).ConfigureAwait(false),
            _ when type == typeof(DateOnly) => await ReadAsync<DateOnly>(group, field, count, column, v => new DateTimeOffset(v.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero), ct).ConfigureAwait(false),
            _ when type == typeof(TimeSpan) => await ReadAsync<TimeSpan>(group, field, count, column, v => v.ToString("c", System.Globalization.CultureInfo.InvariantCulture), ct).ConfigureAwait(false),
            _ when type == typeof(Guid) => await ReadAsync<Guid>(group, field, count, column, v => v.ToString("D"), ct).ConfigureAwait(false),
            _ => throw new InvalidDataException($"column '{field.Name}' has an unsupported type {type.Name}"),
        };
    }

    private async ValueTask<ColumnBuffer> ReadAsync<T>(ParquetRowGroupReader group, DataField field, int count, int column, Func<T, object?> convert, CancellationToken ct)
        where T : struct
    {
        if (field.IsNullable)
        {
            var values = Buffer<T?>(column, count);
            await group.ReadAsync<T>(field, values.AsMemory(0, count), null, ct).ConfigureAwait(false);
            return new ColumnBuffer<T?>(values, count, v => v is { } x ? convert(x) : null);
        }
        else
        {
            var values = Buffer<T>(column, count);
            await group.ReadAsync<T>(field, values.AsMemory(0, count), null, ct).ConfigureAwait(false);
            return new ColumnBuffer<T>(values, count, convert);
        }
    }

    private static bool IsReadFailure(Exception ex) =>
        ex is IOException or InvalidDataException or ParquetException or NotSupportedException or InvalidOperationException
            or ArgumentException or IndexOutOfRangeException or OverflowException or FormatException;

    private static CampaignException Unreadable(string path, Exception ex, long row = 0) =>
        new(new Problem(path, row > int.MaxValue ? 0 : (int)row, 0, $"not a readable Parquet file: {ex.Message}", IsRow: true));

    /// <summary>One column of a row group, typed, boxed only when a row is handed out.</summary>
    private abstract class ColumnBuffer
    {
        public abstract int Count { get; }

        public abstract object? Get(int index);
    }

    private sealed class ColumnBuffer<T>(T[] values, int count, Func<T, object?> convert) : ColumnBuffer
    {
        public override int Count => count;

        public override object? Get(int index) => convert(values[index]);
    }
}
