using System.Text.Json;
using Herald.Postgres;
using Npgsql;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// <c>--db postgresql://…</c> through the real CLI against a real PostgreSQL (HERALD_TEST_PG, PGPASSWORD; .ci/run
/// starts one). Each test gets its own database, dropped afterwards.
/// </summary>
public sealed class PostgresStoreTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-pg-cli-").FullName;
    private string _database = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static PostgresAddress Server
    {
        get
        {
            var value = Environment.GetEnvironmentVariable("HERALD_TEST_PG");
            return string.IsNullOrWhiteSpace(value)
                ? throw new InvalidOperationException("HERALD_TEST_PG is not set: run `source .ci/postgres.sh` first (it starts a private PostgreSQL and exports HERALD_TEST_PG and PGPASSWORD).")
                : PostgresAddress.Parse(value);
        }
    }

    private string Db => (Server with { Database = _database }).ToString();

    public async ValueTask InitializeAsync()
    {
        _database = $"herald_test_{Guid.NewGuid():N}"[..28];
        await ExecuteAsync($"CREATE DATABASE {_database}");
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Server.ToConnectionString(Server.ResolvePassword()));
        await connection.OpenAsync(CancellationToken.None);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Prepare_send_and_status_run_on_a_postgresql_store()
    {
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0");
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 40, port, 2);

            var send = await HeraldProcess.RunAsync("send", campaign, "--db", Db);
            Assert.True(send.Exit == 0, send.Out + send.Error);
            Assert.StartsWith($"store: {Db} (from --db)", send.Out, StringComparison.Ordinal);

            var status = await HeraldProcess.RunInAsync(null, new Dictionary<string, string> { ["HERALD_DB"] = Db }, HeraldProcess.Bound, "status", campaign, "--json");
            Assert.True(status.Exit == 0, status.Out + status.Error);
            using var json = JsonDocument.Parse(status.Out);
            Assert.Equal(40, json.RootElement.GetProperty("sent").GetInt64());
            Assert.Equal(Db, json.RootElement.GetProperty("store").GetString());
            Assert.False(File.Exists(HeraldProcess.DefaultStore), "a PostgreSQL address must not create a SQLite file");
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task A_password_in_the_address_is_refused_without_being_echoed()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 2, 1, 1);
        var address = $"postgresql://{Server.Username}:Sup3rSecretValue@{Server.Hosts[0].Host}:{Server.Hosts[0].Port}/{_database}";

        var result = await HeraldProcess.RunAsync("status", campaign, "--db", address);

        Assert.Equal(1, result.Exit);
        Assert.Contains("must not contain a password", result.Error + result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Sup3rSecretValue", result.Error + result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_read_only_command_on_a_database_without_herald_tables_creates_nothing()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 2, 1, 1);

        var result = await HeraldProcess.RunAsync("status", campaign, "--db", Db);

        Assert.Equal(1, result.Exit);
        Assert.Contains("no store found", result.Error + result.Out, StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection((Server with { Database = _database }).ToConnectionString(Server.ResolvePassword()));
        await connection.OpenAsync(Ct);
        await using var command = new NpgsqlCommand("SELECT to_regclass('recipients') IS NULL", connection);
        Assert.Equal(true, await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task A_wrong_password_is_a_clear_error_that_names_the_store_but_not_the_password()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 2, 1, 1);
        var env = new Dictionary<string, string> { ["PGPASSWORD"] = "Wr0ngPasswordValue" };

        var result = await HeraldProcess.RunInAsync(null, env, HeraldProcess.Bound, "status", campaign, "--db", Db);

        Assert.NotEqual(0, result.Exit);
        Assert.Contains(_database, result.Error + result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Wr0ngPasswordValue", result.Error + result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }
}
