using Npgsql;

namespace Herald.Postgres;

/// <summary>Turns Npgsql's exceptions into <see cref="StoreException"/>s that say whether a retry can help.</summary>
public static class PostgresErrors
{
    /// <summary>
    /// Transient: the connection broke or could not be made (class 08, socket and I/O errors, timeouts), the server
    /// is shutting down, restarting or failing over (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
    /// now), too many connections or out of resources (class 53), and the conflicts a retry resolves (40001
    /// serialization failure, 40P01 deadlock, 55P03 lock not available). Everything else (a missing table, a
    /// permission, a constraint, a wrong password, a database that does not exist) needs a person.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        PostgresException pg => IsTransientSqlState(pg.SqlState),
        NpgsqlException npgsql => npgsql.IsTransient,
        TimeoutException or IOException or System.Net.Sockets.SocketException => true,
        _ => false,
    };

    public static bool IsTransientSqlState(string? sqlState) => sqlState switch
    {
        null => false,
        "40001" or "40P01" or "55P03" or "57P01" or "57P02" or "57P03" => true,
        _ => sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState.StartsWith("53", StringComparison.Ordinal),
    };

    /// <summary>The store's exception for a driver failure, or null when <paramref name="exception"/> is not one (cancellation, caller bugs).</summary>
    public static StoreException? Map(Exception exception, string context)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is not (NpgsqlException or TimeoutException or IOException or System.Net.Sockets.SocketException))
        {
            return null;
        }

        var transient = IsTransient(exception);
        var sqlState = (exception as PostgresException)?.SqlState;
        var what = exception is PostgresException pg ? $"{pg.MessageText} (SQLSTATE {pg.SqlState})" : exception.Message;
        var hint = transient ? "; the store is unreachable or failing over, retrying" : string.Empty;
        return new StoreException($"{context}: {what}{hint}", exception, transient, sqlState);
    }
}
