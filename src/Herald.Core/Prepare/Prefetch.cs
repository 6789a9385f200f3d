using System.Collections.Concurrent;

namespace Herald.Prepare;

/// <summary>
/// Runs a row source (file reading and parsing) on its own thread, a chunk ahead of the operators that consume
/// it, so a pass uses both cores. Chunks carry a snapshot of the source's column names: JSONL readers grow their
/// column list while reading, and the consumer must not look at a list another thread is appending to.
/// </summary>
internal static class Prefetch
{
    public const int ChunkSize = 2048;

    public static IEnumerable<Chunk<T>> Chunks<T>(IEnumerable<T> source, Func<IReadOnlyList<string>> columns, CancellationToken cancellationToken)
    {
        using var queue = new BlockingCollection<Chunk<T>>(boundedCapacity: 4);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() =>
        {
            try
            {
                string[] names = [];
                var chunk = new List<T>(ChunkSize);
                foreach (var item in source)
                {
                    chunk.Add(item);
                    if (chunk.Count == ChunkSize)
                    {
                        names = Snapshot(columns(), names);
                        queue.Add(new Chunk<T>(chunk, names), stop.Token);
                        chunk = new List<T>(ChunkSize);
                    }
                }

                if (chunk.Count > 0)
                {
                    queue.Add(new Chunk<T>(chunk, Snapshot(columns(), names)), stop.Token);
                }
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, stop.Token);

        try
        {
            foreach (var chunk in queue.GetConsumingEnumerable(stop.Token))
            {
                yield return chunk;
            }

            // Surfaces the reader's own error (a malformed line, an unreadable file) with its message intact.
            producer.GetAwaiter().GetResult();
        }
        finally
        {
            stop.Cancel();
            try
            {
                producer.Wait(CancellationToken.None);
            }
            catch (AggregateException)
            {
                // Stopped early (the consumer failed or was cancelled): the producer's cancellation is expected.
            }
        }
    }

    private static string[] Snapshot(IReadOnlyList<string> columns, string[] previous) =>
        columns.Count == previous.Length ? previous : [.. columns];

    /// <summary>Items read in a row, and the source's column names as they were after the last of them.</summary>
    internal sealed record Chunk<T>(List<T> Items, string[] Columns);
}
