using Herald.Store;
using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>Turns SQLite's result codes into <see cref="StoreException"/>s that say whether a retry can help.</summary>
internal static class SqliteErrors
{
    private const int Busy = 5;
    private const int Locked = 6;
    private const int Protocol = 15;

    /// <summary>
    /// BUSY and LOCKED (another connection holds the lock longer than the busy timeout) and PROTOCOL (a lock race)
    /// go away when the holder lets go: transient. Everything else (schema, constraint, permission, corruption, a
    /// full disk, a file that cannot be opened) needs a person.
    /// </summary>
    public static bool IsTransient(SqliteException ex) => ex.SqliteErrorCode is Busy or Locked or Protocol;

    public static StoreException ToStoreException(SqliteException ex, string context)
    {
        var transient = IsTransient(ex);
        var code = ex.SqliteErrorCode switch
        {
            Busy => "SQLITE_BUSY",
            Locked => "SQLITE_LOCKED",
            Protocol => "SQLITE_PROTOCOL",
            var other => $"SQLITE_{other}",
        };
        var hint = transient ? " (the database is locked by another process; retrying)" : string.Empty;
        return new StoreException($"{context}: {ex.Message}{hint}", ex, transient, code);
    }
}
