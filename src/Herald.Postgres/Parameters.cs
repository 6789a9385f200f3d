using Npgsql;
using NpgsqlTypes;

namespace Herald.Postgres;

/// <summary>Typed parameters for the array statements that carry a whole batch in one round trip.</summary>
internal static class Parameters
{
    public static NpgsqlParameter Array<T>(T[] values, NpgsqlDbType elementType) =>
        new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | elementType };

    public static NpgsqlParameter Interval(TimeSpan span) => new() { Value = span, NpgsqlDbType = NpgsqlDbType.Interval };
}
