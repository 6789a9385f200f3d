using Npgsql;

namespace Herald.Postgres;

/// <summary>
/// A pooled data source for one store address, and the one way the stores run a piece of work on it: a pooled
/// connection, and every driver failure turned into a <see cref="StoreException"/> that says whether it is transient.
/// </summary>
public sealed class PostgresConnections : IAsyncDisposable
{
    public PostgresConnections(NpgsqlDataSource dataSource, string display)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        DataSource = dataSource;
        Display = display;
    }

    /// <summary>The pool.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>The store address as it may be printed (no password).</summary>
    public string Display { get; }

    /// <summary>A data source for <paramref name="address"/>, with the password from the environment.</summary>
    public static PostgresConnections Open(PostgresAddress address, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        var builder = new NpgsqlDataSourceBuilder(address.ToConnectionString(address.ResolvePassword(environment)));
        return new PostgresConnections(builder.Build(), address.ToString());
    }

    /// <summary>A data source for a full Npgsql connection string (tests, tools).</summary>
    public static PostgresConnections FromConnectionString(string connectionString, string display) =>
        new(NpgsqlDataSource.Create(connectionString), display);

    public Task<T> RunAsync<T>(Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        return GuardAsync(async () =>
        {
            await using var connection = await DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            return await work(connection).ConfigureAwait(false);
        });
    }

    /// <summary>Runs <paramref name="work"/>, turning driver failures into <see cref="StoreException"/>s.</summary>
    public async Task<T> GuardAsync<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            return await work().ConfigureAwait(false);
        }
        catch (Exception ex) when (PostgresErrors.Map(ex, Display) is { } mapped)
        {
            throw mapped;
        }
    }

    public Task RunAsync(Func<NpgsqlConnection, Task> work, CancellationToken cancellationToken) =>
        RunAsync(async connection =>
        {
            await work(connection).ConfigureAwait(false);
            return 0;
        }, cancellationToken);

    /// <summary>Maps failures raised while reading a streamed result.</summary>
    public Exception? Map(Exception exception) => PostgresErrors.Map(exception, Display);

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
