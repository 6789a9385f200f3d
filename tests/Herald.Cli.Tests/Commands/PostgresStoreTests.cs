using System.Text.Json;
using Herald.Postgres;
using Herald.Cli.Tests.Postgres;
using Npgsql;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// <c>--db postgresql://…</c> through the real CLI against a real PostgreSQL (HERALD_TEST_PG, PGPASSWORD; .ci/run
/// starts one). Each test gets its own database, dropped afterwards.
/// </summary>
public sealed class PostgresStoreTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-pg-cli-").FullName;
    private SharedTestDatabase _db = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Db => _db.Address;

    private PostgresAddress Server => PostgresAddress.Parse(_db.Address);

    public async ValueTask InitializeAsync()
    {
        _db = await SharedTestDatabase.CreateAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _db.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
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
    public async Task A_pause_and_relay_health_on_a_postgresql_store_are_seen_by_status_and_cleared_by_the_next_send()
    {
        var fixedRelay = false;
        await using var relay = Herald.Core.Tests.Smtp.ScriptableSmtpServer.Start(new Herald.Core.Tests.Smtp.SmtpScript
        {
            OnMail = _ => Volatile.Read(ref fixedRelay) ? null : Herald.Core.Tests.Smtp.SmtpAction.Reply(530, "5.7.0 Authentication required"),
        });
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 20, relay.Port, 2, "    name: smtp-1");

        var paused = await HeraldProcess.RunAsync("send", campaign, "--db", Db);

        Assert.True(paused.Exit == 4, paused.Out + paused.Error);
        Assert.Contains("paused: relay smtp-1: 530 5.7.0 Authentication required", paused.Error, StringComparison.Ordinal);
        using (var status = JsonDocument.Parse((await HeraldProcess.RunAsync("status", campaign, "--db", Db, "--json")).Out))
        {
            Assert.Equal("paused", status.RootElement.GetProperty("state").GetString());
            Assert.Equal((20, 0), (status.RootElement.GetProperty("pending").GetInt32(), status.RootElement.GetProperty("failed").GetInt32()));
            var health = status.RootElement.GetProperty("relays")[0];
            Assert.Equal(("out_of_rotation", "530 5.7.0 Authentication required"), (health.GetProperty("state").GetString(), health.GetProperty("last_reply").GetString()));
        }

        Volatile.Write(ref fixedRelay, true);
        var resumed = await HeraldProcess.RunAsync("send", campaign, "--db", Db);

        Assert.True(resumed.Exit == 0, resumed.Out + resumed.Error);
        Assert.Equal(20, relay.Messages.Count);
        using var after = JsonDocument.Parse((await HeraldProcess.RunAsync("status", campaign, "--db", Db, "--json")).Out);
        Assert.Equal("complete", after.RootElement.GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_password_in_the_address_is_refused_without_being_echoed()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 2, 1, 1);
        var address = $"postgresql://{Server.Username}:Sup3rSecretValue@{Server.Hosts[0].Host}:{Server.Hosts[0].Port}/{_db.Name}";

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
        await using var connection = _db.Open();
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
        Assert.Contains(_db.Name, result.Error + result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("Wr0ngPasswordValue", result.Error + result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }
}
