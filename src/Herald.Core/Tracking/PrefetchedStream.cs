using System.Threading.Channels;

namespace Herald.Tracking;

/// <summary>
/// Reads an async stream on a pool thread, a few batches ahead of its consumer, and exposes its current item: the
/// report merges several store streams, and prefetching lets the database work of each run on its own core.
/// </summary>
internal sealed class PrefetchedStream<T> : IAsyncDisposable
{
    private const int BatchSize = 1024;

    // Batches read ahead: enough for a stream to keep going while the report waits for the delivery times.
    private const int ReadAhead = 64;
    private readonly Channel<List<T>> _batches = Channel.CreateBounded<List<T>>(new BoundedChannelOptions(ReadAhead) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop;
    private readonly Task _producer;
    private List<T>? _batch;
    private int _index;

    private PrefetchedStream(IAsyncEnumerable<T> source, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _producer = Task.Run(() => ProduceAsync(source, _stop.Token), CancellationToken.None);
    }

    /// <summary>True while <see cref="Current"/> holds an item.</summary>
    public bool HasCurrent { get; private set; }

    public T Current { get; private set; } = default!;

    /// <summary>Starts reading and moves to the first item.</summary>
    public static async Task<PrefetchedStream<T>> StartAsync(IAsyncEnumerable<T> source, CancellationToken cancellationToken)
    {
        var stream = new PrefetchedStream<T>(source, cancellationToken);
        try
        {
            await stream.MoveNextAsync().ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask MoveNextAsync()
    {
        if (_batch is not null && ++_index < _batch.Count)
        {
            Current = _batch[_index];
            return;
        }

        while (await _batches.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
        {
            if (_batches.Reader.TryRead(out var next) && next.Count > 0)
            {
                _batch = next;
                _index = 0;
                Current = next[0];
                HasCurrent = true;
                return;
            }
        }

        HasCurrent = false;
        Current = default!;
        // The producer's own failure (a store error) surfaces here with its message intact.
        await _producer.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        // Its failure, if any, reached the consumer through MoveNextAsync, or does not matter once it stopped reading.
        await _producer.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task ProduceAsync(IAsyncEnumerable<T> source, CancellationToken cancellationToken)
    {
        try
        {
            var batch = new List<T>(BatchSize);
            await foreach (var item in source.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                batch.Add(item);
                if (batch.Count == BatchSize)
                {
                    await _batches.Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                    batch = new List<T>(BatchSize);
                }
            }

            if (batch.Count > 0)
            {
                await _batches.Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }

            _batches.Writer.Complete();
        }
        catch (Exception ex) when (_batches.Writer.TryComplete(ex))
        {
            throw;
        }
    }
}
