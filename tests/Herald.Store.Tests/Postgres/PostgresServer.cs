using Herald.Postgres;
using Npgsql;

namespace Herald.Store.Tests.Postgres;

/// <summary>
/// The PostgreSQL server the tests run against: <c>HERALD_TEST_PG</c> (<c>postgresql://user@host:port/db</c>, password
/// in <c>PGPASSWORD</c>). Every database a test creates is named <c>herald_test_…</c> and dropped afterwards. Without
/// the variable the tests fail (they never skip): a test that skips in CI proves nothing.
/// </summary>
public static class PostgresServer
{
    public const string Variable = "HERALD_TEST_PG";

    public static PostgresAddress Admin
    {
        get
        {
            var value = Environment.GetEnvironmentVariable(Variable);
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new InvalidOperationException(
                    $"{Variable} is not set, so the PostgreSQL store tests cannot run. Start a private server with "
                    + "`source .ci/postgres.sh` (it installs Debian's postgresql when missing, starts a cluster on a free "
                    + "loopback port and exports HERALD_TEST_PG and PGPASSWORD), or point it at a server of yours: "
                    + "HERALD_TEST_PG=postgresql://USER@127.0.0.1:PORT/postgres PGPASSWORD=… dotnet test.");
            }

            return PostgresAddress.Parse(value);
        }
    }

    public static string AdminConnectionString => Admin.ToConnectionString(Admin.ResolvePassword());

    /// <summary>The address of a database on the test server.</summary>
    public static PostgresAddress AddressOf(string database) => Admin with { Database = database };

    public static string ConnectionStringOf(string database) => AddressOf(database).ToConnectionString(Admin.ResolvePassword());

    public static async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = $"herald_test_{Guid.NewGuid():N}"[..28];
        await ExecuteAsync($"CREATE DATABASE {name}", cancellationToken);
        return name;
    }

    public static Task DropDatabaseAsync(string name) => ExecuteAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", CancellationToken.None);

    public static async Task ExecuteAsync(string sql, CancellationToken cancellationToken, string? database = null)
    {
        var connectionString = database is null ? AdminConnectionString : ConnectionStringOf(database);
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<T> ScalarAsync<T>(string sql, string database, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionStringOf(database)) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Connections to <paramref name="database"/>, as a Herald process opens them.</summary>
    public static PostgresConnections Connect(string database) =>
        PostgresConnections.FromConnectionString(ConnectionStringOf(database), AddressOf(database).ToString());
}

/// <summary>One fresh database per test class, dropped (with any extra ones) when the class is done.</summary>
public sealed class PostgresDatabaseFixture : IAsyncLifetime
{
    private readonly List<string> _databases = [];

    public string Database { get; private set; } = "";

    public async ValueTask InitializeAsync() => Database = await CreateAsync();

    /// <summary>Another fresh database, dropped with the fixture.</summary>
    public async Task<string> CreateAsync()
    {
        var name = await PostgresServer.CreateDatabaseAsync(CancellationToken.None);
        lock (_databases)
        {
            _databases.Add(name);
        }

        return name;
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        foreach (var name in _databases)
        {
            await PostgresServer.DropDatabaseAsync(name);
        }
    }

    /// <summary>Empties every Herald table (between tests of one class).</summary>
    public Task TruncateAsync(CancellationToken cancellationToken) => PostgresServer.ExecuteAsync(
        "TRUNCATE recipients, plans, workers, tracking_events, suppressions, campaign_pauses, relay_health, report_links, rollup_recipients, rollup_clicks, rollup_minutes RESTART IDENTITY", cancellationToken, Database);
}
