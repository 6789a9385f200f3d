using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Herald.Store;

namespace Herald.Tracking.Journal;

/// <summary>Why the journal did not take an event.</summary>
internal enum JournalRefusal
{
    None,

    /// <summary>The journal holds <see cref="JournalOptions.MaxBytes"/> of events the store has not taken yet.</summary>
    Full,

    /// <summary>The write failed (disk full, I/O error).</summary>
    WriteFailed,

    /// <summary>The server is stopping.</summary>
    Stopped,
}

/// <summary>
/// This server's append-only event journal. Request handlers add events and wait for the write of their group: a
/// dedicated thread writes everything that arrived while the previous write ran in one <c>write(2)</c> (a group
/// commit; under load a group holds many events, when idle one), then completes the group, so a response is sent only
/// once its event is in the file. The store side reads the file back in batches from where the store is up to, and
/// deletes files once everything in them is stored.
/// </summary>
/// <remarks>
/// Files, in <see cref="JournalOptions.Directory"/>: <c>INSTANCE.lock</c>, held with an exclusive lock for the
/// life of the process (the kernel releases it however the process dies, which is how another server tells a dead
/// journal from a live one), and <c>INSTANCE.NNNNNN.events</c>, one event per line.
/// </remarks>
internal sealed class EventJournal : IDisposable
{
    private const string LockSuffix = ".lock";
    private const string SegmentSuffix = ".events";
    private const int MaxReadBytes = 4 * 1024 * 1024;

    private readonly JournalOptions _options;
    private readonly long _segmentBytes;
    private readonly FileStream _lock;
    // A monitor, not a Lock: the writer waits on it (Monitor.Wait) for the next group.
    private readonly object _gate = new();
    private readonly List<Segment> _segments = [];
    private readonly Thread _writer;
    private Group _current = new();
    private Group? _spare;
    private bool _writerWaiting;
    private bool _completing;
    private volatile bool _full;
    private volatile string? _writeError;
    private long _bytes;
    private long _writtenEvents;
    private long _storedEvents;
    private long _refused;
    private int _nextSegment = 1;
    // The store side's position: everything before it is in the store. Only the store side moves it.
    private int _storedSegment;
    private long _storedOffset;
    private FileStream? _reader;
    private int _readerSegment;

    private EventJournal(JournalOptions options, string instanceId, FileStream lockFile)
    {
        _options = options;
        // Several files per bound, so that deleting stored files keeps the disk use near the bound.
        _segmentBytes = Math.Min(options.SegmentBytes, Math.Max(64 * 1024, options.MaxBytes / 8));
        InstanceId = instanceId;
        _lock = lockFile;
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "herald-journal-writer" };
    }

    public string InstanceId { get; }

    public string Directory => _options.Directory;

    public string LockPath => LockPathOf(_options.Directory, InstanceId);

    /// <summary>Bytes of this journal on disk.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Events written to the journal and not yet in the store.</summary>
    public long PendingEvents => Interlocked.Read(ref _writtenEvents) - Interlocked.Read(ref _storedEvents);

    public long WrittenEvents => Interlocked.Read(ref _writtenEvents);

    public long StoredEvents => Interlocked.Read(ref _storedEvents);

    public long RefusedEvents => Interlocked.Read(ref _refused);

    /// <summary>Why new events are refused right now, or null when they are taken.</summary>
    public string? Problem => _full
        ? $"the event journal in {Directory} is full ({Bytes:N0} bytes not yet in the store)"
        : _writeError is { } error ? $"cannot write the event journal in {Directory}: {error}" : null;

    public static EventJournal Open(JournalOptions options, string instanceId)
    {
        ArgumentNullException.ThrowIfNull(options);
        System.IO.Directory.CreateDirectory(options.Directory);
        var lockPath = LockPathOf(options.Directory, instanceId);
        // FileShare.None is an exclusive flock on Linux: held until this process closes it or dies.
        var lockFile = new FileStream(lockPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            var owner = string.Create(CultureInfo.InvariantCulture, $"pid={Environment.ProcessId} host={Environment.MachineName} started={DateTimeOffset.UtcNow:O}\n");
            lockFile.Write(System.Text.Encoding.UTF8.GetBytes(owner));
            lockFile.Flush();
            var journal = new EventJournal(options, instanceId, lockFile);
            journal.StartSegment();
            journal._storedSegment = journal._segments[0].Number;
            journal._writer.Start();
            return journal;
        }
        catch
        {
            lockFile.Dispose();
            File.Delete(lockPath);
            throw;
        }
    }

    internal static string LockPathOf(string directory, string instanceId) => Path.Combine(directory, instanceId + LockSuffix);

    internal static string SegmentPathOf(string directory, string instanceId, int number) =>
        Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{instanceId}.{number:D6}{SegmentSuffix}"));

    /// <summary>The instance a journal file belongs to, from its name; null for other files.</summary>
    internal static string? InstanceOf(string fileName, out bool isLock)
    {
        isLock = fileName.EndsWith(LockSuffix, StringComparison.Ordinal);
        if (isLock)
        {
            return fileName[..^LockSuffix.Length];
        }

        if (!fileName.EndsWith(SegmentSuffix, StringComparison.Ordinal))
        {
            return null;
        }

        var stem = fileName[..^SegmentSuffix.Length];
        var dot = stem.LastIndexOf('.');
        return dot > 0 && stem[(dot + 1)..].All(char.IsAsciiDigit) ? stem[..dot] : null;
    }

    /// <summary>
    /// Adds one event to the next group and completes when that group is in the file: true when written, false when
    /// refused (see <see cref="Problem"/>), in which case the request must not be answered as if it were recorded.
    /// </summary>
    public Task<bool> AppendAsync(TrackingEvent e, out JournalRefusal refusal)
    {
        lock (_gate)
        {
            refusal = _completing ? JournalRefusal.Stopped : _full ? JournalRefusal.Full : JournalRefusal.None;
            if (refusal != JournalRefusal.None)
            {
                Interlocked.Increment(ref _refused);
                return Task.FromResult(false);
            }

            _current.Events.Add(e);
            if (_writerWaiting)
            {
                Monitor.Pulse(_gate);
            }

            return _current.Done.Task;
        }
    }

    /// <summary>Stops taking events, writes the last group and returns when the writer is done.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completing = true;
            Monitor.Pulse(_gate);
        }

        _writer.Join();
    }

    private void WriteLoop()
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true });
        while (true)
        {
            Group group;
            lock (_gate)
            {
                while (_current.Events.Count == 0 && !_completing)
                {
                    _writerWaiting = true;
                    Monitor.Wait(_gate);
                    _writerWaiting = false;
                }

                if (_current.Events.Count == 0)
                {
                    return;
                }

                group = _current;
                _current = _spare ?? new Group();
                _spare = null;
            }

            buffer.ResetWrittenCount();
            JournalFormat.Write(buffer, group.Events, json);
            var written = Write(buffer.WrittenSpan, group.Events.Count);
            if (!written)
            {
                Interlocked.Add(ref _refused, group.Events.Count);
            }

            group.Done.SetResult(written);
            var reuse = new Group(group.Events);
            lock (_gate)
            {
                _spare = reuse;
            }
        }
    }

    private bool Write(ReadOnlySpan<byte> bytes, int events)
    {
        // Under the lock: the mover removes stored files from the front of the list meanwhile, and a List read while
        // RemoveAt shifts it can give null or throw, which on this thread would abort the process. Only this thread
        // appends, so the last file stays the last once read.
        Segment segment;
        lock (_segments)
        {
            segment = _segments[^1];
        }

        try
        {
            segment.Stream!.Write(bytes);
            if (_options.FlushToDisk)
            {
                if (segment.Stream is FileStream file)
                {
                    file.Flush(flushToDisk: true);
                }
                else
                {
                    segment.Stream.Flush();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            _writeError = ex.Message;
            Undo(segment);
            return false;
        }

        _writeError = null;
        lock (_segments)
        {
            segment.Length += bytes.Length;
        }

        Interlocked.Add(ref _bytes, bytes.Length);
        Interlocked.Add(ref _writtenEvents, events);
        if (UnstoredBytes >= _options.MaxBytes)
        {
            _full = true;
        }

        if (segment.Length >= _segmentBytes)
        {
            TryStartSegment();
        }

        return true;
    }

    /// <summary>A failed write may have left part of the group in the file: cut it off, or, when even that fails, never append after it.</summary>
    private void Undo(Segment segment)
    {
        try
        {
            segment.Stream!.SetLength(segment.Length);
            segment.Stream.Position = segment.Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            TryStartSegment();
        }
    }

    private void TryStartSegment()
    {
        try
        {
            StartSegment();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Keep appending to the current file; its length is still exact.
            _writeError = ex.Message;
        }
    }

    private void StartSegment()
    {
        var number = _nextSegment;
        var path = SegmentPathOf(_options.Directory, InstanceId, number);
        var stream = _options.OpenSegment(path);
        _nextSegment++;
        lock (_segments)
        {
            if (_segments.Count > 0)
            {
                _segments[^1].Close();
            }

            _segments.Add(new Segment(number, path, stream));
        }
    }

    /// <summary>
    /// Reads the next events after the stored position, up to <paramref name="max"/>; the store side stores them and
    /// then calls <see cref="MarkStored"/> with the batch. Null when there is nothing new.
    /// </summary>
    public JournalBatch? ReadBatch(int max)
    {
        while (true)
        {
            Segment segment;
            long limit;
            bool closed;
            lock (_segments)
            {
                segment = _segments.First(s => s.Number == _storedSegment);
                limit = segment.Length;
                closed = segment.Closed;
            }

            if (_storedOffset >= limit)
            {
                if (!closed)
                {
                    return null;
                }

                // Everything in a closed file is stored: it goes, and reading goes on in the next one.
                DeleteStoredSegment(segment);
                continue;
            }

            var events = new List<TrackingEvent>(Math.Min(max, 4096));
            var length = (int)Math.Min(limit - _storedOffset, MaxReadBytes);
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                var reader = ReaderFor(segment);
                var read = RandomAccess.Read(reader.SafeFileHandle, buffer.AsSpan(0, length), _storedOffset);
                var consumed = JournalFormat.Read(buffer.AsSpan(0, read), events, max, out var skipped);
                if (consumed == 0)
                {
                    // Only whole lines are ever counted in a file's length; a line longer than a read would be garbage.
                    consumed = Math.Max(read, 1);
                    skipped++;
                }

                return new JournalBatch(events, segment.Number, _storedOffset + consumed, skipped);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>The events of <paramref name="batch"/> are in the store.</summary>
    public void MarkStored(JournalBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _storedSegment = batch.Segment;
        Volatile.Write(ref _storedOffset, batch.EndOffset);
        Interlocked.Add(ref _storedEvents, batch.Events.Count);
        Refresh();
    }

    /// <summary>Takes events again once the store has caught up to below 90 % of the bound (called by the store side).</summary>
    public void Refresh()
    {
        if (_full && UnstoredBytes < _options.MaxBytes / 10 * 9)
        {
            _full = false;
        }
    }

    // Files before the stored one are deleted, so what is on disk past the stored offset is what the store lacks.
    private long UnstoredBytes => Interlocked.Read(ref _bytes) - Volatile.Read(ref _storedOffset);

    private void DeleteStoredSegment(Segment segment)
    {
        if (_readerSegment == segment.Number)
        {
            _reader?.Dispose();
            _reader = null;
        }

        lock (_segments)
        {
            var index = _segments.IndexOf(segment);
            _storedSegment = _segments[index + 1].Number;
            _segments.RemoveAt(index);
        }

        // Offset first: a writer reading both in between sees more unstored bytes than there are, never fewer.
        Volatile.Write(ref _storedOffset, 0);
        Interlocked.Add(ref _bytes, -segment.Length);
        File.Delete(segment.Path);
        Refresh();
    }

    private FileStream ReaderFor(Segment segment)
    {
        if (_reader is null || _readerSegment != segment.Number)
        {
            _reader?.Dispose();
            _reader = new FileStream(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            _readerSegment = segment.Number;
        }

        return _reader;
    }

    /// <summary>
    /// Closes the files. When every event is in the store the journal is deleted (a clean stop leaves nothing);
    /// otherwise the files stay, and the next server to start in this folder (or any running one) moves them.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _completing = true;
            Monitor.Pulse(_gate);
        }

        if (_writer.IsAlive)
        {
            _writer.Join();
        }

        _reader?.Dispose();
        var clean = PendingEvents == 0;
        lock (_segments)
        {
            foreach (var segment in _segments)
            {
                segment.Close();
                if (clean)
                {
                    File.Delete(segment.Path);
                }
            }
        }

        if (clean)
        {
            File.Delete(LockPath);
        }

        _lock.Dispose();
    }

    private sealed class Group
    {
        public Group() => Events = [];

        /// <summary>A new group over the list of one that was written (the list is cleared and reused).</summary>
        public Group(List<TrackingEvent> events)
        {
            events.Clear();
            Events = events;
        }

        public List<TrackingEvent> Events { get; }

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Segment(int number, string path, Stream stream)
    {
        public int Number { get; } = number;

        public string Path { get; } = path;

        public Stream? Stream { get; private set; } = stream;

        /// <summary>Bytes of whole groups written; what readers may read.</summary>
        public long Length { get; set; }

        public bool Closed => Stream is null;

        public void Close()
        {
            Stream?.Dispose();
            Stream = null;
        }
    }
}

/// <summary>Events read from a journal, and where they end.</summary>
internal sealed record JournalBatch(List<TrackingEvent> Events, int Segment, long EndOffset, int Skipped);
