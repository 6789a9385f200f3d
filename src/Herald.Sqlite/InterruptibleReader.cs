using Microsoft.Data.Sqlite;

namespace Herald.Sqlite;

/// <summary>A data reader that keeps its statement's interrupt registration alive until it is disposed.</summary>
internal sealed class InterruptibleReader(SqliteDataReader reader, CancellationTokenRegistration interrupt, string path) : IAsyncDisposable
{
    public string Path => path;

    public bool Read() => reader.Read();

    public bool IsDBNull(int ordinal) => reader.IsDBNull(ordinal);

    public string GetString(int ordinal) => reader.GetString(ordinal);

    public long GetInt64(int ordinal) => reader.GetInt64(ordinal);

    public int GetInt32(int ordinal) => reader.GetInt32(ordinal);

    public byte[] GetBytes(int ordinal) => (byte[])reader.GetValue(ordinal);

    public async ValueTask DisposeAsync()
    {
        await reader.DisposeAsync().ConfigureAwait(false);
        await interrupt.DisposeAsync().ConfigureAwait(false);
    }
}
