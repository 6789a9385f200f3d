using System.Runtime.CompilerServices;

namespace Herald.Store;

/// <summary>Helpers for backends that must surface every driver failure as a <see cref="StoreException"/>.</summary>
public static class StoreErrors
{
    /// <summary>
    /// The same sequence, with every failure raised while reading it replaced by what <paramref name="map"/> makes of
    /// it (null: rethrow as is). Iterators cannot catch around <c>yield return</c>; this wraps them from outside.
    /// </summary>
    public static async IAsyncEnumerable<T> Guard<T>(IAsyncEnumerable<T> source, Func<Exception, Exception?> map, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(map);
        var enumerator = source.GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            while (true)
            {
                T current;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }

                    current = enumerator.Current;
                }
                catch (Exception ex) when (map(ex) is { } mapped)
                {
                    throw mapped;
                }

                yield return current;
            }
        }
    }
}
