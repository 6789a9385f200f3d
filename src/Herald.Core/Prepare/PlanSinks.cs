using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Herald.Rendering;
using Herald.Store;

namespace Herald.Prepare;

/// <summary>Serializes a recipient's own fields (every column but <c>email</c> and <c>recipient_id</c>, which the message factory adds) as a JSON object.</summary>
internal sealed class FieldsSerializer(Func<IReadOnlyList<string>> columnNames)
{
    private readonly ContextJson.Names _names = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private Utf8JsonWriter? _json;

    public ReadOnlyMemory<byte> Serialize(object?[] values, int emailIndex, int idIndex)
    {
        _buffer.ResetWrittenCount();
        _json ??= new Utf8JsonWriter(_buffer, ContextJson.Options);
        _json.Reset(_buffer);
        _json.WriteStartObject();
        var columns = columnNames();
        for (var c = 0; c < values.Length && c < columns.Count; c++)
        {
            if (c == emailIndex || c == idIndex)
            {
                continue;
            }

            _json.WritePropertyName(_names[columns, c]);
            ContextJson.WriteValue(_json, values[c]);
        }

        _json.WriteEndObject();
        _json.Flush();
        return _buffer.WrittenMemory;
    }
}

/// <summary>
/// The write operator: hands batches of plan entries to the store's plan writer on a second thread, so building
/// the plan and storing it overlap (two cores). Contexts are copied into a per-batch arena and batches are
/// recycled once the writer has taken them (the <see cref="IPlanWriter.AddAsync"/> contract: entries are consumed
/// when it returns), so a million contexts do not become a million arrays for the GC to promote.
/// </summary>
internal sealed class PlanWriterSink : IAsyncDisposable
{
    private const int Depth = 4;

    private readonly Channel<Batch> _full = Channel.CreateBounded<Batch>(new BoundedChannelOptions(Depth) { SingleReader = true, SingleWriter = true });
    private readonly System.Collections.Concurrent.ConcurrentQueue<Batch> _free = new();
    private readonly Task _consumer;
    private readonly int _batchSize;
    private readonly string _campaignId;
    private readonly string _fromDomain;
    private readonly SortedDictionary<string, long> _skipped = new(StringComparer.Ordinal);
    private Batch _batch;

    public PlanWriterSink(IPlanWriter writer, string campaignId, string fromDomain, int batchSize, CancellationToken cancellationToken)
    {
        _batchSize = batchSize;
        _campaignId = campaignId;
        _fromDomain = fromDomain;
        _batch = new Batch(batchSize);
        _consumer = Task.Run(async () =>
        {
            await foreach (var batch in _full.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await writer.AddAsync(batch.Entries, cancellationToken).ConfigureAwait(false);
                batch.Clear();
                _free.Enqueue(batch);
            }
        }, cancellationToken);
    }

    public long Deliverable { get; private set; }

    public IReadOnlyDictionary<string, long> Skipped => _skipped;

    /// <summary>Adds one row; <paramref name="context"/> is copied before this returns, so the caller may reuse its buffer.</summary>
    public ValueTask AddAsync(string recipientId, string email, ReadOnlyMemory<byte> context, string? skipReason, CancellationToken cancellationToken)
    {
        if (skipReason is null)
        {
            Deliverable++;
        }
        else
        {
            _skipped[skipReason] = _skipped.GetValueOrDefault(skipReason) + 1;
            context = ReadOnlyMemory<byte>.Empty;
        }

        _batch.Entries.Add(new PlanEntry(recipientId, email, _batch.Copy(context.Span), skipReason, MessageIds.Create(_campaignId, recipientId, _fromDomain)));
        return _batch.Entries.Count >= _batchSize ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    /// <summary>Writes what is left and waits until the plan writer has every entry.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        _full.Writer.TryComplete();
        await _consumer.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _full.Writer.TryComplete();
        try
        {
            await _consumer.ConfigureAwait(false);
        }
        catch (Exception) when (!_consumer.IsCompletedSuccessfully)
        {
            // The failure was (or will be) reported by CompleteAsync or the pass that stopped; nothing is committed.
        }
    }

    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_batch.Entries.Count == 0)
        {
            return;
        }

        if (_consumer.IsFaulted)
        {
            await _consumer.ConfigureAwait(false);
        }

        await _full.Writer.WriteAsync(_batch, cancellationToken).ConfigureAwait(false);
        _batch = _free.TryDequeue(out var recycled) ? recycled : new Batch(_batchSize);
    }

    private sealed class Batch(int size)
    {
        private byte[] _arena = new byte[256 * 1024];
        private int _used;

        public List<PlanEntry> Entries { get; } = new(size);

        public ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> bytes)
        {
            if (bytes.IsEmpty)
            {
                return ReadOnlyMemory<byte>.Empty;
            }

            if (_used + bytes.Length > _arena.Length)
            {
                // Entries already added keep the old arena alive until the batch is written; new ones go to a bigger one.
                _arena = new byte[Math.Max(_arena.Length * 2, bytes.Length)];
                _used = 0;
            }

            var target = _arena.AsMemory(_used, bytes.Length);
            bytes.CopyTo(target.Span);
            _used += bytes.Length;
            return target;
        }

        public void Clear()
        {
            Entries.Clear();
            _used = 0;
        }
    }
}

/// <summary>Rows of the recipients pass, in file order, kept on disk until the joins are built.</summary>
internal sealed class RecipientSpool : IDisposable
{
    private readonly string _path;
    private readonly int _dataSets;
    private BinaryWriter? _writer;
    private long _count;

    public RecipientSpool(string directory, int dataSets)
    {
        _path = Path.Combine(directory, "recipients.spool");
        _dataSets = dataSets;
        _writer = new BinaryWriter(new FileStream(_path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20));
    }

    public void Write(PlanRow row, ReadOnlySpan<byte> fields)
    {
        var w = _writer!;
        w.Write(row.RecipientId);
        w.Write(row.Email);
        w.Write(row.SkipReason ?? string.Empty);
        foreach (var group in row.Groups)
        {
            w.Write(group);
        }

        w.Write(fields.Length);
        w.Write(fields);
        _count++;
    }

    public IEnumerable<SpooledRow> Read()
    {
        _writer?.Dispose();
        _writer = null;
        using var reader = new BinaryReader(new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan));
        var row = new SpooledRow(new int[_dataSets]);
        var fields = new byte[4096];
        for (long n = 0; n < _count; n++)
        {
            row.RecipientId = reader.ReadString();
            row.Email = reader.ReadString();
            var skip = reader.ReadString();
            row.SkipReason = skip.Length == 0 ? null : skip;
            for (var i = 0; i < _dataSets; i++)
            {
                row.Groups[i] = reader.ReadInt32();
            }

            var length = reader.ReadInt32();
            if (fields.Length < length)
            {
                fields = new byte[Math.Max(length, fields.Length * 2)];
            }

            for (var read = 0; read < length;)
            {
                var got = reader.Read(fields, read, length - read);
                if (got == 0)
                {
                    throw new EndOfStreamException("truncated recipient spool");
                }

                read += got;
            }

            row.Fields = fields.AsMemory(0, length);
            yield return row;
        }
    }

    public void Dispose() => _writer?.Dispose();

    internal sealed class SpooledRow(int[] groups)
    {
        public string RecipientId { get; set; } = string.Empty;

        public string Email { get; set; } = string.Empty;

        public string? SkipReason { get; set; }

        public int[] Groups { get; } = groups;

        public ReadOnlyMemory<byte> Fields { get; set; }
    }
}
