namespace Herald.Postgres;

/// <summary>
/// What every PostgreSQL store shares: the connection pool, owned or borrowed from the store opened beside it (one
/// pool per process), and the schema migration of the Herald tables.
/// </summary>
public abstract class PostgresStore : IAsyncDisposable
{
    private readonly bool _ownsConnections;

    private protected PostgresStore(PostgresConnections connections, bool ownsConnections)
    {
        ArgumentNullException.ThrowIfNull(connections);
        Connections = connections;
        _ownsConnections = ownsConnections;
    }

    /// <summary>The store address as it may be printed.</summary>
    public string Display => Connections.Display;

    private protected PostgresConnections Connections { get; }

    /// <summary>Creates or upgrades the Herald schema (versioned, under an advisory lock).</summary>
    public virtual Task MigrateAsync(CancellationToken cancellationToken) =>
        Connections.GuardAsync(async () =>
        {
            await PostgresSchema.MigrateAsync(Connections.DataSource, cancellationToken).ConfigureAwait(false);
            return 0;
        });

    public async ValueTask DisposeAsync()
    {
        if (_ownsConnections)
        {
            await Connections.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}
