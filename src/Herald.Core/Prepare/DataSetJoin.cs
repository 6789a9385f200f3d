using System.Buffers;
using System.Text.Json;
using Herald.Campaigns;
using Herald.Data;

namespace Herald.Prepare;

/// <summary>
/// One data set joined to the recipients. Build: streams the data file once, keeps the rows whose key matches a
/// deliverable recipient (the key index built in the recipients pass), serializes each as a JSON object and feeds
/// the external sorter. Probe: the final pass asks for groups in ascending order of first appearance, which is the
/// sorter's order, so the join is a merge of two sorted streams; groups shared by several recipients are cached.
/// </summary>
internal sealed class DataSetJoin : IDisposable
{
    private readonly DataSetOptions _options;
    private readonly string _path;
    private readonly IndexJoinKeys _keys;
    private readonly long _budget;
    private readonly long _heapLimit;
    private readonly string _spillDirectory;
    private ExternalSorter? _sorter;
    private readonly Dictionary<int, byte[]?> _shared = [];
    private readonly JsonEncodedText _name;
    private int[]? _firstRow;
    private ExternalSorter.SortedCursor? _cursor;
    private bool _hasCurrent;

    /// <param name="options">The data set.</param>
    /// <param name="path">Its file, absolute.</param>
    /// <param name="keys">The recipients' key index (the build side).</param>
    /// <param name="budget">This data set's share of the budget: reader plus sort buffers.</param>
    /// <param name="heapLimit">The managed heap size past which a full collection is induced (whole prepare budget plus slack).</param>
    /// <param name="spillDirectory">Where sorted runs go.</param>
    public DataSetJoin(DataSetOptions options, string path, IndexJoinKeys keys, long budget, long heapLimit, string spillDirectory)
    {
        _heapLimit = heapLimit;
        _options = options;
        _path = path;
        _keys = keys;
        _name = JsonEncodedText.Encode(options.Name, ContextJson.Options.Encoder);
        _budget = budget;
        _spillDirectory = spillDirectory;
    }

    public string Name => _options.Name;

    public bool Required => _options.Required;

    public long RowsRead { get; private set; }

    public long RowsMatched { get; private set; }

    public int SpilledRuns => _sorter?.SpilledRuns ?? 0;

    public DataSetManifest Manifest => new(_options.Name, DisplayPath.For(_path), RowsRead, RowsMatched, SpilledRuns);

    public void Build(CancellationToken cancellationToken)
    {
        using var reader = TableReaders.Open(_path);

        // The reader's own working set comes out of the budget: a Parquet row group is decoded whole, strings
        // included (about three times its uncompressed size); text
        // formats hold a buffer or two.
        var readerBytes = reader is ParquetTableReader parquet ? 3 * parquet.LargestRowGroupBytes : 16L << 20;
        _sorter = new ExternalSorter(Math.Max(_budget - readerBytes, _budget / 8), _spillDirectory, _options.Many ? _options.Limit ?? 0 : 0);
        string[] columns = [.. reader.Columns];
        var key = new ColumnRef(reader.Path, () => columns, _options.Key);
        key.Require($"the key of data set '{_options.Name}'");
        var order = _options.OrderBy is { } orderBy ? new ColumnRef(reader.Path, () => columns, orderBy) : null;
        order?.Require($"order_by of data set '{_options.Name}'");
        if (!_options.Many)
        {
            _firstRow = new int[_keys.Groups.Count];
        }

        var names = new ContextJson.Names();
        var buffer = new ArrayBufferWriter<byte>(1024);
        using var json = new Utf8JsonWriter(buffer, ContextJson.Options);
        var orderKind = OrderKind.None;
        var orderKindRow = 0;
        foreach (var chunk in Prefetch.Chunks(reader.ReadRows(cancellationToken), () => reader.Columns, cancellationToken))
        {
            columns = chunk.Columns;
            foreach (var record in chunk.Items)
            {
                RowsRead++;
                if ((RowsRead & 0xFFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();

                    // Readers that decode in blocks (a Parquet row group's strings) leave blocks that outlive a few
                    // gen0 collections and reach gen2, which the GC collects lazily; the heap would grow far past the
                    // budget. Hold it to the budget instead: a full collection costs tens of milliseconds here.
                    if (GC.GetTotalMemory(forceFullCollection: false) > _heapLimit)
                    {
                        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
                    }
                }

                var keyIndex = key.Index;
                var values = record.Values;
                var group = _keys.Find(keyIndex >= 0 && keyIndex < values.Length ? values[keyIndex] : null, reader.Path, record.Row, _options.Key);
                if (group < 0)
                {
                    continue;
                }

                RowsMatched++;
                if (_firstRow is not null)
                {
                    if (_firstRow[group] != 0)
                    {
                        throw new CampaignException(new Problem(reader.Path, record.Row, 0,
                            $"duplicate key '{values[keyIndex]}' in one-to-one data set '{_options.Name}' (first in row {_firstRow[group]}); set many: true or remove one of the rows",
                            IsRow: true));
                    }

                    _firstRow[group] = record.Row;
                }

                var orderKey = OrderKey.None;
                if (order is not null)
                {
                    var orderIndex = order.Index;
                    orderKey = OrderKey.From(orderIndex >= 0 && orderIndex < values.Length ? values[orderIndex] : null, reader.Path, record.Row, order.Name);
                    if (orderKey.Kind is OrderKind.Number or OrderKind.Text)
                    {
                        if (orderKind == OrderKind.None)
                        {
                            orderKind = orderKey.Kind;
                            orderKindRow = record.Row;
                        }
                        else if (orderKind != orderKey.Kind)
                        {
                            throw new CampaignException(new Problem(reader.Path, record.Row, 0,
                                $"order_by column '{order.Name}' holds {(orderKey.Kind == OrderKind.Text ? "text" : "a number")} here but {(orderKind == OrderKind.Text ? "text" : "a number")} in row {orderKindRow}; use one type",
                                IsRow: true));
                        }
                    }
                }

                buffer.ResetWrittenCount();
                json.Reset();
                json.WriteStartObject();
                for (var c = 0; c < values.Length && c < columns.Length; c++)
                {
                    if (c == keyIndex)
                    {
                        continue;
                    }

                    json.WritePropertyName(names[columns, c]);
                    ContextJson.WriteValue(json, values[c]);
                }

                json.WriteEndObject();
                json.Flush();
                _sorter.Add(group, record.Row, orderKey, buffer.WrittenSpan);
            }
        }

        key.Require($"the key of data set '{_options.Name}'", atEnd: true);
        order?.Require($"order_by of data set '{_options.Name}'", atEnd: true);
        _firstRow = null;
        _cursor = _sorter.Complete();
        _hasCurrent = _cursor.MoveNext();
    }

    /// <summary>
    /// Writes the joined value of a key group (a list, or one object) to <paramref name="output"/> as
    /// <c>,"name":value</c>. Returns false, writing nothing, when there is no match.
    /// </summary>
    public bool TryWrite(int group, ArrayBufferWriter<byte> output)
    {
        if (group < 0)
        {
            return false;
        }

        if (_shared.TryGetValue(group, out var cached))
        {
            if (--_keys.References[group] == 0)
            {
                _shared.Remove(group);
            }

            if (cached is null)
            {
                return false;
            }

            output.Write(cached);
            return true;
        }

        var cursor = _cursor ?? throw new InvalidOperationException("Build first.");
        while (_hasCurrent && cursor.Group < group)
        {
            _hasCurrent = cursor.MoveNext();
        }

        var found = _hasCurrent && cursor.Group == group;
        var start = output.WrittenCount;
        if (found)
        {
            Write(output, (byte)',');
            Write(output, (byte)'"');
            output.Write(_name.EncodedUtf8Bytes);
            Write(output, (byte)'"');
            Write(output, (byte)':');
            if (_options.Many)
            {
                Write(output, (byte)'[');
                var limit = _options.Limit is > 0 ? _options.Limit.Value : int.MaxValue;
                var n = 0;
                while (_hasCurrent && cursor.Group == group)
                {
                    if (n < limit)
                    {
                        if (n > 0)
                        {
                            Write(output, (byte)',');
                        }

                        output.Write(cursor.Payload);
                    }

                    n++;
                    _hasCurrent = cursor.MoveNext();
                }

                Write(output, (byte)']');
            }
            else
            {
                output.Write(cursor.Payload);
                _hasCurrent = cursor.MoveNext();
            }
        }

        if (_keys.References[group] > 1)
        {
            _keys.References[group]--;
            _shared[group] = found ? output.WrittenSpan[start..].ToArray() : null;
        }

        return found;
    }

    /// <summary>The value written for a recipient without a match, when the data set is optional.</summary>
    public void WriteEmpty(ArrayBufferWriter<byte> output)
    {
        Write(output, (byte)',');
        Write(output, (byte)'"');
        output.Write(_name.EncodedUtf8Bytes);
        Write(output, (byte)'"');
        Write(output, (byte)':');
        output.Write(_options.Many ? "[]"u8 : "null"u8);
    }

    public void Dispose()
    {
        _cursor?.Dispose();
        _sorter?.Dispose();
    }

    private static void Write(ArrayBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }
}
