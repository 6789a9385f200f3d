using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Herald.Sqlite;

/// <summary>
/// A write statement prepared once and executed many times through SQLite's C API, parameters bound by position: the
/// tracking appends' rows, where the provider's per-statement cost exceeds the row's. Run it inside a transaction the
/// provider began (BEGIN IMMEDIATE holds the write lock, so a step does not meet another writer's lock). A failure
/// throws the provider's <see cref="SqliteException"/>, as the provider's own commands do.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    private RawStatement(sqlite3 db, sqlite3_stmt statement)
    {
        _db = db;
        _statement = statement;
    }

    public static RawStatement Prepare(sqlite3 db, string sql)
    {
        var rc = raw.sqlite3_prepare_v2(db, sql, out sqlite3_stmt statement);
        if (rc != raw.SQLITE_OK)
        {
            statement.Dispose();
            SqliteException.ThrowExceptionForRC(rc, db);
        }

        return new RawStatement(db, statement);
    }

    public RawStatement Text(int index, string? value) =>
        Check(value is null ? raw.sqlite3_bind_null(_statement, index) : raw.sqlite3_bind_text(_statement, index, value));

    public RawStatement Int64(int index, long? value) =>
        Check(value is { } number ? raw.sqlite3_bind_int64(_statement, index, number) : raw.sqlite3_bind_null(_statement, index));

    public RawStatement Blob(int index, ReadOnlySpan<byte> value) => Check(raw.sqlite3_bind_blob(_statement, index, value));

    /// <summary>Runs the statement with the bound values (kept for the next run) and returns the rows it changed itself (not its triggers').</summary>
    public int Execute()
    {
        var rc = raw.sqlite3_step(_statement);
        if (rc != raw.SQLITE_DONE)
        {
            raw.sqlite3_reset(_statement);
            SqliteException.ThrowExceptionForRC(rc, _db);
        }

        var changed = raw.sqlite3_changes(_db);
        Check(raw.sqlite3_reset(_statement));
        return changed;
    }

    public void Dispose() => _statement.Dispose();

    private RawStatement Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }

        return this;
    }
}
