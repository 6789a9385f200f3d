namespace Herald.Tracking.Journal;

/// <summary>Where and how a tracking server keeps its event journal.</summary>
public sealed class JournalOptions
{
    /// <summary>
    /// The folder of the journals. Several servers may share it (each writes only its own files, named by its instance
    /// id); a server that finds the files of one that is gone (its lock is free) moves them to the store.
    /// </summary>
    public required string Directory { get; init; }

    /// <summary>A file is closed and a new one started past this size; a closed file is deleted once its events are in the store.</summary>
    public long SegmentBytes { get; init; } = 8L * 1024 * 1024;

    /// <summary>
    /// The most this server's journal may hold (events not yet in the store). Past it, tracking requests are refused
    /// with 503 and <c>/healthz</c> fails, so that a load balancer sends them to another copy: an event is never
    /// answered unless it is on disk.
    /// </summary>
    public long MaxBytes { get; init; } = 1024L * 1024 * 1024;

    /// <summary>
    /// fsync after each group write. Off by default: a write that returned is in the operating system's page cache and
    /// survives the death of the process (SIGTERM, kill -9, a crash), which is what the journal is for; only a power loss
    /// or kernel crash could lose the last moments, and an fsync per group would cost more than the redirect itself.
    /// </summary>
    public bool FlushToDisk { get; init; }

    /// <summary>The spool file of an earlier version (one JSON event per line), moved to the store once and then deleted.</summary>
    public string? LegacySpoolPath { get; init; }

    /// <summary>How often the folder is searched for journals of servers that are gone.</summary>
    public TimeSpan AdoptInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Opens a file of the journal for appending; tests replace it to simulate a full disk.</summary>
    internal Func<string, Stream> OpenSegment { get; init; } = static path =>
        new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete, bufferSize: 0);
}
