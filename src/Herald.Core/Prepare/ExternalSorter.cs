using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Herald.Prepare;

/// <summary>
/// Sorts join items by (recipient key group, order value, file row) within a memory budget: items are buffered
/// in an arena; when the budget is reached the buffer is sorted and written to disk as a run; reading merges
/// every run with what is still in memory. Within a run at most <c>limit</c> items per group are kept, since
/// later ones can never make a recipient's top <c>limit</c>.
/// </summary>
internal sealed class ExternalSorter : IDisposable
{
    private const int ChunkSize = 4 << 20;
    private static readonly int EntrySize = Marshal.SizeOf<SortEntry>();

    private readonly long _budget;
    private readonly string _directory;
    private readonly int _limit;
    private readonly List<byte[]> _chunks = [];
    private readonly List<string> _runs = [];
    private SortEntry[] _entries;
    private int _count;
    private int _chunk;
    private int _offset;

    public ExternalSorter(long budgetBytes, string directory, int limit)
    {
        _budget = Math.Max(budgetBytes, 64 * 1024);
        _directory = directory;
        _limit = limit <= 0 ? int.MaxValue : limit;
        _chunks.Add(new byte[Math.Min(ChunkSize, (int)Math.Min(int.MaxValue, _budget / 2))]);

        // A quarter of the budget for entries up front: growing by copies would leave large-object garbage.
        _entries = new SortEntry[(int)Math.Clamp(_budget / 4 / EntrySize, 1024, Array.MaxLength / 2)];
    }

    /// <summary>Runs written to disk so far.</summary>
    public int SpilledRuns => _runs.Count;

    public void Add(int group, int row, in OrderKey order, ReadOnlySpan<byte> payload)
    {
        var textLength = order.Text?.Length ?? 0;
        var size = textLength + payload.Length;
        if (_count == _entries.Length && !TryGrowEntries())
        {
            Spill();
        }

        if (_offset + size > _chunks[_chunk].Length)
        {
            if (!TryNextChunk(size))
            {
                Spill();
                if (_offset + size > _chunks[_chunk].Length && !TryNextChunk(size))
                {
                    // A single item larger than the whole budget: give it a chunk of its own anyway.
                    _chunks.Add(new byte[size]);
                    _chunk = _chunks.Count - 1;
                    _offset = 0;
                }
            }
        }

        var target = _chunks[_chunk].AsSpan(_offset);
        order.Text.AsSpan().CopyTo(target);
        payload.CopyTo(target[textLength..]);
        _entries[_count++] = new SortEntry
        {
            Group = group,
            Kind = order.Kind,
            Prefix = order.Prefix,
            Row = row,
            Chunk = _chunk,
            Offset = _offset,
            TextLength = textLength,
            PayloadLength = payload.Length,
        };
        _offset += size;
    }

    /// <summary>Every item added, in order; the cursor's spans are valid until its next MoveNext.</summary>
    public SortedCursor Complete()
    {
        var entries = _entries.AsSpan(0, _count);
        entries.Sort(new EntryComparer(_chunks));
        var memory = new MemoryCursor(_chunks, _entries, Trim(entries));
        if (_runs.Count == 0)
        {
            return memory;
        }

        var cursors = new List<SortedCursor>(_runs.Count + 1) { memory };
        cursors.AddRange(_runs.Select(r => new FileCursor(r)));
        return new MergeCursor(cursors);
    }

    public void Dispose()
    {
        foreach (var run in _runs)
        {
            try
            {
                File.Delete(run);
            }
            catch (IOException)
            {
                // Best effort: the whole spill folder is removed by the caller too.
            }
        }
    }

    private bool TryGrowEntries()
    {
        var next = (long)_entries.Length * 3 / 2;
        if (Used() + ((next - _entries.Length) * EntrySize) > _budget)
        {
            return false;
        }

        Array.Resize(ref _entries, (int)Math.Min(next, Array.MaxLength / 2));
        return true;
    }

    private bool TryNextChunk(int size)
    {
        if (_chunk + 1 < _chunks.Count && _chunks[_chunk + 1].Length >= size)
        {
            _chunk++;
            _offset = 0;
            return true;
        }

        var length = Math.Max(ChunkSize, size);
        if (Used() + length > _budget)
        {
            return false;
        }

        _chunks.Insert(_chunk + 1, new byte[length]);
        _chunk++;
        _offset = 0;
        return true;
    }

    private long Used()
    {
        long used = (long)_entries.Length * EntrySize;
        foreach (var chunk in _chunks)
        {
            used += chunk.Length;
        }

        return used;
    }

    private void Spill()
    {
        var entries = _entries.AsSpan(0, _count);
        entries.Sort(new EntryComparer(_chunks));
        var kept = Trim(entries);
        var path = Path.Combine(_directory, $"run-{Guid.NewGuid():N}.bin");
        _runs.Add(path);
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> header = stackalloc byte[FileCursor.HeaderSize];
            foreach (ref readonly var e in entries[..kept])
            {
                FileCursor.WriteHeader(header, e);
                stream.Write(header);
                stream.Write(_chunks[e.Chunk].AsSpan(e.Offset, e.TextLength + e.PayloadLength));
            }
        }

        _count = 0;
        _chunk = 0;
        _offset = 0;
    }

    /// <summary>Keeps at most <c>limit</c> entries per group (the sorted span is compacted in place); returns the count kept.</summary>
    private int Trim(Span<SortEntry> sorted)
    {
        if (_limit == int.MaxValue)
        {
            return sorted.Length;
        }

        var kept = 0;
        var run = 0;
        for (var i = 0; i < sorted.Length; i++)
        {
            run = i > 0 && sorted[i].Group == sorted[i - 1].Group ? run + 1 : 0;
            if (run < _limit)
            {
                sorted[kept++] = sorted[i];
            }
        }

        return kept;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct SortEntry
    {
        public ulong Prefix;
        public int Group;
        public int Row;
        public int Chunk;
        public int Offset;
        public int TextLength;
        public int PayloadLength;
        public OrderKind Kind;
    }

    private readonly struct EntryComparer(List<byte[]> chunks) : IComparer<SortEntry>
    {
        public int Compare(SortEntry x, SortEntry y)
        {
            var c = x.Group.CompareTo(y.Group);
            if (c != 0)
            {
                return c;
            }

            c = ((byte)x.Kind).CompareTo((byte)y.Kind);
            if (c != 0)
            {
                return c;
            }

            c = x.Prefix.CompareTo(y.Prefix);
            if (c != 0)
            {
                return c;
            }

            if (x.Kind == OrderKind.Text)
            {
                c = chunks[x.Chunk].AsSpan(x.Offset, x.TextLength).SequenceCompareTo(chunks[y.Chunk].AsSpan(y.Offset, y.TextLength));
                if (c != 0)
                {
                    return c;
                }
            }

            return x.Row.CompareTo(y.Row);
        }
    }

    /// <summary>One sorted stream of items.</summary>
    internal abstract class SortedCursor : IDisposable
    {
        public int Group { get; protected set; }

        public int Row { get; protected set; }

        public OrderKind Kind { get; protected set; }

        public ulong Prefix { get; protected set; }

        public abstract ReadOnlySpan<byte> Text { get; }

        public abstract ReadOnlySpan<byte> Payload { get; }

        public abstract bool MoveNext();

        public virtual void Dispose()
        {
        }

        public static int Compare(SortedCursor x, SortedCursor y)
        {
            var c = x.Group.CompareTo(y.Group);
            if (c == 0)
            {
                c = ((byte)x.Kind).CompareTo((byte)y.Kind);
            }

            if (c == 0)
            {
                c = x.Prefix.CompareTo(y.Prefix);
            }

            if (c == 0 && x.Kind == OrderKind.Text)
            {
                c = x.Text.SequenceCompareTo(y.Text);
            }

            return c != 0 ? c : x.Row.CompareTo(y.Row);
        }
    }

    private sealed class MemoryCursor(List<byte[]> chunks, SortEntry[] entries, int count) : SortedCursor
    {
        private int _index = -1;

        public override ReadOnlySpan<byte> Text
        {
            get
            {
                ref readonly var e = ref entries[_index];
                return chunks[e.Chunk].AsSpan(e.Offset, e.TextLength);
            }
        }

        public override ReadOnlySpan<byte> Payload
        {
            get
            {
                ref readonly var e = ref entries[_index];
                return chunks[e.Chunk].AsSpan(e.Offset + e.TextLength, e.PayloadLength);
            }
        }

        public override bool MoveNext()
        {
            if (++_index >= count)
            {
                return false;
            }

            ref readonly var e = ref entries[_index];
            Group = e.Group;
            Row = e.Row;
            Kind = e.Kind;
            Prefix = e.Prefix;
            return true;
        }
    }

    private sealed class FileCursor : SortedCursor
    {
        public const int HeaderSize = 25;

        private readonly FileStream _stream;
        private readonly byte[] _header = new byte[HeaderSize];
        private byte[] _data = new byte[4096];
        private int _textLength;
        private int _payloadLength;

        public FileCursor(string path)
        {
            _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        }

        public override ReadOnlySpan<byte> Text => _data.AsSpan(0, _textLength);

        public override ReadOnlySpan<byte> Payload => _data.AsSpan(_textLength, _payloadLength);

        public static void WriteHeader(Span<byte> header, in SortEntry e)
        {
            BinaryPrimitives.WriteInt32LittleEndian(header, e.Group);
            header[4] = (byte)e.Kind;
            BinaryPrimitives.WriteUInt64LittleEndian(header[5..], e.Prefix);
            BinaryPrimitives.WriteInt32LittleEndian(header[13..], e.Row);
            BinaryPrimitives.WriteInt32LittleEndian(header[17..], e.TextLength);
            BinaryPrimitives.WriteInt32LittleEndian(header[21..], e.PayloadLength);
        }

        public override bool MoveNext()
        {
            var read = _stream.ReadAtLeast(_header, HeaderSize, throwOnEndOfStream: false);
            if (read == 0)
            {
                return false;
            }

            if (read < HeaderSize)
            {
                throw new InvalidDataException("truncated spill run");
            }

            Group = BinaryPrimitives.ReadInt32LittleEndian(_header);
            Kind = (OrderKind)_header[4];
            Prefix = BinaryPrimitives.ReadUInt64LittleEndian(_header.AsSpan(5));
            Row = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(13));
            _textLength = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(17));
            _payloadLength = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(21));
            var size = _textLength + _payloadLength;
            if (_data.Length < size)
            {
                _data = new byte[Math.Max(size, _data.Length * 2)];
            }

            _stream.ReadExactly(_data, 0, size);
            return true;
        }

        public override void Dispose() => _stream.Dispose();
    }

    /// <summary>K-way merge of sorted cursors; exposes the smallest current item.</summary>
    private sealed class MergeCursor : SortedCursor
    {
        private readonly List<SortedCursor> _all;
        private readonly PriorityQueue<SortedCursor, SortedCursor> _queue = new(Comparer<SortedCursor>.Create(Compare));
        private SortedCursor? _current;

        public MergeCursor(List<SortedCursor> cursors)
        {
            _all = cursors;
            foreach (var cursor in cursors)
            {
                if (cursor.MoveNext())
                {
                    _queue.Enqueue(cursor, cursor);
                }
            }
        }

        public override ReadOnlySpan<byte> Text => _current!.Text;

        public override ReadOnlySpan<byte> Payload => _current!.Payload;

        public override bool MoveNext()
        {
            if (_current is not null && _current.MoveNext())
            {
                _queue.Enqueue(_current, _current);
            }

            if (!_queue.TryDequeue(out _current, out _))
            {
                _current = null;
                return false;
            }

            Group = _current.Group;
            Row = _current.Row;
            Kind = _current.Kind;
            Prefix = _current.Prefix;
            return true;
        }

        public override void Dispose()
        {
            foreach (var cursor in _all)
            {
                cursor.Dispose();
            }
        }
    }
}
