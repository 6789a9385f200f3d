using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using SmtpServer;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace Herald.Cli.Sink;

/// <summary>
/// Decides the reply to every final dot: keeps the message when asked, logs it, counts it, replies 250.
/// Works on the library's byte segments directly: a 50 kB message is never turned into a string.
/// Deliberately not IDisposable: SmtpServer disposes a store that is, after every single message.
/// </summary>
internal sealed class SinkStore : MessageStore
{
    private static readonly SmtpResponse Accepted = new(SmtpReplyCode.Ok, "2.0.0 Ok: queued");
    private readonly CaptureSinkOptions _options;
    private readonly FileStream? _log;
    private readonly Lock _logLock = new();
    private readonly Lock _waitLock = new();
    private readonly List<(long Target, TaskCompletionSource Done)> _waiters = [];
    private readonly string _filePrefix;
    private long _count;
    private long _fileSequence;

    public SinkStore(CaptureSinkOptions options)
    {
        _options = options;
        // Unbuffered append: each line is one write(2), visible to another process at once, so a reader
        // still sees it after this process is killed.
        _log = options.LogFile is null
            ? null
            : new FileStream(options.LogFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        // Process, start time and a random part: two sinks started in the same millisecond never collide.
        _filePrefix = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId}-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}-{Random.Shared.Next(0x10000):x4}");
    }

    public long Count => Interlocked.Read(ref _count);

    private long _files;

    public override async Task<SmtpResponse> SaveAsync(
        ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
    {
        if (_options.Delay > TimeSpan.Zero)
        {
            await Task.Delay(_options.Delay, cancellationToken).ConfigureAwait(false);
        }

        if (_options.OutDir is not null && Interlocked.Increment(ref _files) <= _options.MaxFiles)
        {
            try
            {
                WriteEml(buffer);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Not kept, so not accepted: a transient reply the sender retries (SmtpServer's own answer to a
                // throwing store is a bare, permanent 554, which fails the recipient and says nothing about why).
                // Nothing was written, so it is not one of the MaxFiles files kept (the demo keeps the first few).
                Interlocked.Decrement(ref _files);
                Console.Error.WriteLine($"sink: could not keep the message in {_options.OutDir}: {ex.Message}");
                return new SmtpResponse((SmtpReplyCode)451, $"4.3.0 could not keep the message: {ex.Message}");
            }
        }

        if (_log is not null)
        {
            WriteLogLine(transaction, buffer);
        }

        var count = Interlocked.Increment(ref _count);
        ReleaseWaiters(count);
        return Accepted;
    }

    public Task WaitForCountAsync(long count, CancellationToken cancellationToken)
    {
        lock (_waitLock)
        {
            if (Count >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task.WaitAsync(cancellationToken);
        }
    }

    public void CloseLog() => _log?.Dispose();

    private void ReleaseWaiters(long count)
    {
        lock (_waitLock)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Target <= count)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    private void WriteEml(ReadOnlySequence<byte> buffer)
    {
        var sequence = Interlocked.Increment(ref _fileSequence);
        var path = Path.Combine(_options.OutDir!, string.Create(CultureInfo.InvariantCulture, $"{_filePrefix}-{sequence:D8}.eml"));
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        long offset = 0;
        foreach (var segment in buffer)
        {
            RandomAccess.Write(handle, segment.Span, offset);
            offset += segment.Length;
        }
    }

    private void WriteLogLine(IMessageTransaction transaction, ReadOnlySequence<byte> buffer)
    {
        var line = new StringBuilder(128)
            .Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture))
            .Append('\t')
            .Append(MessageIdReader.Find(buffer) ?? "-")
            .Append('\t');
        for (var i = 0; i < transaction.To.Count; i++)
        {
            if (i > 0)
            {
                line.Append(',');
            }

            line.Append(transaction.To[i].User).Append('@').Append(transaction.To[i].Host);
        }

        line.Append('\t').Append(buffer.Length.ToString(CultureInfo.InvariantCulture)).Append('\n');
        var bytes = Encoding.UTF8.GetBytes(line.ToString());
        lock (_logLock)
        {
            _log!.Write(bytes);
        }
    }
}
