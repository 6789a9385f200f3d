using System.Buffers;
using Herald.Store;

namespace Herald.Tracking.Journal;

/// <summary>
/// The journal of a server that is gone (its lock file is no longer locked), taken over by a live server, which holds
/// its lock while it moves the events to the store, then deletes the files. Replaying an event the store already has
/// changes nothing (events are keyed by id), so a journal moved twice, or partly, never counts an event twice.
/// </summary>
internal sealed class AdoptedJournal : IDisposable
{
    private const int MaxReadBytes = 4 * 1024 * 1024;
    private readonly List<string> _segments;
    private readonly string? _lockPath;
    private FileStream? _lock;
    private int _index;
    private long _offset;

    // The length of the file at _index when ReadBatch last read it; a gone server's file does not grow.
    private long _length;

    private AdoptedJournal(string instanceId, string? lockPath, FileStream? lockFile, List<string> segments)
    {
        InstanceId = instanceId;
        _lockPath = lockPath;
        _lock = lockFile;
        _segments = segments;
    }

    public string InstanceId { get; }

    public bool Done => _index >= _segments.Count;

    /// <summary>
    /// Takes every journal in <paramref name="directory"/> whose owner is gone, except <paramref name="ownInstance"/>
    /// and those in <paramref name="held"/>; plus the spool file an earlier version left, if any.
    /// </summary>
    public static List<AdoptedJournal> FindDead(string directory, string ownInstance, ICollection<string> held, string? legacySpool)
    {
        var found = new List<AdoptedJournal>();
        if (legacySpool is not null && !held.Contains(legacySpool) && File.Exists(legacySpool))
        {
            found.Add(new AdoptedJournal(legacySpool, null, null, [legacySpool]));
        }

        if (!Directory.Exists(directory))
        {
            return found;
        }

        var instances = new Dictionary<string, (bool HasLock, List<string> Segments)>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var instance = EventJournal.InstanceOf(Path.GetFileName(path), out var isLock);
            if (instance is null || instance == ownInstance || held.Contains(instance))
            {
                continue;
            }

            if (!instances.TryGetValue(instance, out var entry))
            {
                entry = (false, []);
            }

            if (isLock)
            {
                entry.HasLock = true;
            }
            else
            {
                entry.Segments.Add(path);
            }

            instances[instance] = entry;
        }

        foreach (var (instance, entry) in instances)
        {
            var lockPath = EventJournal.LockPathOf(directory, instance);
            FileStream lockFile;
            try
            {
                // A live owner holds an exclusive lock: this fails. Files without a lock file are left from a stop that
                // was cut short while deleting them: the owner is gone, so the lock is created to take them.
                lockFile = new FileStream(lockPath, entry.HasLock ? FileMode.Open : FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            entry.Segments.Sort(StringComparer.Ordinal);
            found.Add(new AdoptedJournal(instance, lockPath, lockFile, entry.Segments));
        }

        return found;
    }

    /// <summary>The next events, or null when every file is done.</summary>
    public JournalBatch? ReadBatch(int max)
    {
        while (_index < _segments.Count)
        {
            var path = _segments[_index];
            long length;
            try
            {
                length = new FileInfo(path).Length;
            }
            catch (FileNotFoundException)
            {
                // Another server finished it first.
                NextSegment();
                continue;
            }

            if (_offset >= length)
            {
                DeleteSegment(path);
                continue;
            }

            _length = length;

            var events = new List<TrackingEvent>(Math.Min(max, 4096));
            var size = (int)Math.Min(length - _offset, MaxReadBytes);
            var buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                int read;
                using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    read = RandomAccess.Read(handle, buffer.AsSpan(0, size), _offset);
                }

                var data = buffer.AsSpan(0, read);
                var consumed = JournalFormat.Read(data, events, max, out var skipped);
                if (events.Count < max && _offset + read == length && consumed < read)
                {
                    // The last line without its newline: a write a kill interrupted. Whole, it is a real event.
                    if (JournalFormat.TryParseTail(data[consumed..], out var tail))
                    {
                        events.Add(tail!);
                    }
                    else
                    {
                        skipped++;
                    }

                    consumed = read;
                }
                else if (consumed == 0)
                {
                    consumed = Math.Max(read, 1);
                    skipped++;
                }

                return new JournalBatch(events, _index, _offset + consumed, skipped);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return null;
    }

    public void MarkStored(JournalBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Segment != _index)
        {
            return;
        }

        _offset = batch.EndOffset;
        // Once all of the file is stored it goes now, in the step that stored it, not at the next read, which a stop
        // right after would never make (it left the file and the lock behind).
        if (_offset >= _length)
        {
            try
            {
                DeleteSegment(_segments[_index]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The batch is stored all the same; the next read deletes the file.
            }
        }
    }

    private void DeleteSegment(string path)
    {
        File.Delete(path);
        NextSegment();
    }

    private void NextSegment()
    {
        _index++;
        _offset = 0;
    }

    /// <summary>Releases the lock; once every file is moved, the lock file goes too.</summary>
    public void Dispose()
    {
        if (Done && _lockPath is not null)
        {
            File.Delete(_lockPath);
        }

        _lock?.Dispose();
        _lock = null;
    }
}
