using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Herald.Cli.Tests.Commands;

public sealed class SendCommandTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-send-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Send_killed_with_SIGKILL_and_run_again_never_delivers_twice_and_delivers_everyone_not_in_doubt()
    {
        const int recipients = 300;
        const int connections = 4;
        var log = Path.Combine(_dir, "sink.log");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log, "--delay", "40ms");
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, port, connections);

            using (var send = HeraldProcess.Start(null, "send", campaign))
            {
                try
                {
                    // Kill mid-run: once the sink has accepted a good part but far from all of the messages. The sink
                    // is another process, so its log file is polled (bounded); synchronously, so that a busy thread
                    // pool cannot make the kill late.
                    var deadline = DateTime.UtcNow + Bound;
                    while (LogLines(log).Length < 40)
                    {
                        Assert.True(DateTime.UtcNow < deadline, "the first run never got going");
                        Assert.False(send.HasExited, "send exited before it was killed");
                        Thread.Sleep(5);
                    }

                    send.Kill();
                    await send.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                }
                finally
                {
                    HeraldProcess.KillQuietly(send);
                }
            }

            var acceptedBeforeKill = LogLines(log).Length;
            Assert.InRange(acceptedBeforeKill, 40, recipients - 1);

            var again = await HeraldProcess.RunAsync(Bound, "send", campaign);
            Assert.True(again.Exit == 0, again.Out + again.Error);

            var perRecipient = LogLines(log).GroupBy(l => l.Split('\t')[2]).ToDictionary(g => g.Key, g => g.Count());
            Assert.All(perRecipient, pair => Assert.True(pair.Value == 1, $"{pair.Key} received {pair.Value} messages"));

            var states = ReadStates(HeraldProcess.DefaultStore);
            Assert.Equal(recipients, states.Count);
            var inDoubt = states.Where(s => s.Value == 4).Select(s => s.Key).ToList();
            Assert.InRange(inDoubt.Count, 0, connections);
            foreach (var (email, state) in states.Where(s => s.Value != 4))
            {
                Assert.Equal(2, state);
                Assert.True(perRecipient.ContainsKey(email), $"{email} is sent but the sink never accepted it");
            }

            var status = await HeraldProcess.RunAsync(Bound, "status", campaign, "--json");
            Assert.Equal(0, status.Exit);
            using var json = JsonDocument.Parse(status.Out);
            var root = json.RootElement;
            Assert.Equal("crash-test", root.GetProperty("campaign").GetString());
            Assert.Equal(recipients, root.GetProperty("total").GetInt64());
            Assert.Equal(recipients - inDoubt.Count, root.GetProperty("sent").GetInt64());
            Assert.Equal(inDoubt.Count, root.GetProperty("in_doubt").GetInt64());
            Assert.Equal(0, root.GetProperty("pending").GetInt64() + root.GetProperty("sending").GetInt64() + root.GetProperty("failed").GetInt64());

            // Finished: a third run sends nothing.
            var third = await HeraldProcess.RunAsync(Bound, "send", campaign);
            Assert.Equal(0, third.Exit);
            Assert.Equal(perRecipient.Values.Sum(), LogLines(log).Length);
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task Send_exits_non_zero_and_marks_nothing_failed_when_no_relay_can_be_reached()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var closedPort = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 5, closedPort, 2,
            "delivery: { unreachable_timeout: 1s, breaker_cooldown: 200ms }");

        var run = await HeraldProcess.RunAsync(Bound, "send", campaign);

        Assert.Equal(3, run.Exit);
        Assert.Contains($"no relay could be reached: relay 127.0.0.1:{closedPort}: connection refused.", run.Error, StringComparison.Ordinal);
        var states = ReadStates(HeraldProcess.DefaultStore);
        Assert.All(states.Values, s => Assert.Equal(0, s));
    }

    [Fact]
    public async Task Status_json_has_exactly_the_documented_keys()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 3, 25, 1);
        Assert.Equal(0, (await HeraldProcess.RunAsync(Bound, "prepare", campaign)).Exit);

        var status = await HeraldProcess.RunAsync(Bound, "status", campaign, "--json");

        Assert.Equal(0, status.Exit);
        using var json = JsonDocument.Parse(status.Out);
        Assert.Equal(HeraldProcess.DefaultStore, json.RootElement.GetProperty("store").GetString());
        Assert.Equal(
            ["store", "campaign", "total", "pending", "sending", "sent", "failed", "in_doubt", "skipped", "state", "reason", "paused_since", "relays", "workers"],
            json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("not_started", json.RootElement.GetProperty("state").GetString());
        var relay = Assert.Single(json.RootElement.GetProperty("relays").EnumerateArray());
        Assert.Equal(["name", "state", "last_reply", "last_error", "since"], relay.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("127.0.0.1:25", "unknown"), (relay.GetProperty("name").GetString(), relay.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task Retry_refuses_without_both_confirmation_flags()
    {
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 3, 25, 1);

        var run = await HeraldProcess.RunAsync(Bound, "retry", campaign, "--in-doubt");

        Assert.Equal(1, run.Exit);
        Assert.Contains("--accept-duplicates", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_stops_gracefully_on_SIGINT_and_the_next_run_finishes_the_campaign()
    {
        const int recipients = 200;
        var log = Path.Combine(_dir, "sink.log");
        // Slow enough that the run is far from its end when SIGINT lands, even on a loaded machine (~10 s left).
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log, "--delay", "100ms");
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, port, 2);
            using (var send = HeraldProcess.Start(null, "send", campaign))
            {
                try
                {
                    var deadline = DateTime.UtcNow + Bound;
                    while (LogLines(log).Length < 10)
                    {
                        Assert.True(DateTime.UtcNow < deadline, "the first run never got going");
                        Thread.Sleep(5);
                    }

                    using (var interrupt = System.Diagnostics.Process.Start("kill", ["-INT", send.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                    {
                        await interrupt.WaitForExitAsync(Ct);
                    }

                    await send.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                    Assert.True(send.ExitCode == 2,
                        $"exit {send.ExitCode}, {LogLines(log).Length} accepted; stdout: {await send.StandardOutput.ReadToEndAsync(Ct)}; stderr: {await send.StandardError.ReadToEndAsync(Ct)}");
                }
                finally
                {
                    HeraldProcess.KillQuietly(send);
                }
            }

            // Graceful: the transactions in flight finished and were recorded; nothing is left sending or in doubt.
            var states = ReadStates(HeraldProcess.DefaultStore);
            Assert.DoesNotContain(states.Values, s => s is 1 or 4);
            Assert.Equal(LogLines(log).Length, states.Values.Count(s => s == 2));
            Assert.InRange(states.Values.Count(s => s == 0), 1, recipients - 10);

            var again = await HeraldProcess.RunAsync(Bound, "send", campaign);
            Assert.True(again.Exit == 0, again.Out + again.Error);
            Assert.Equal(recipients, LogLines(log).Length);
            Assert.Equal(recipients, LogLines(log).Select(l => l.Split('\t')[2]).Distinct().Count());
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task Retry_in_doubt_with_accept_duplicates_sends_those_recipients_again()
    {
        var log = Path.Combine(_dir, "sink.log");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log);
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 5, port, 1);
            Assert.Equal(0, (await HeraldProcess.RunAsync(Bound, "send", campaign)).Exit);
            var db = HeraldProcess.DefaultStore;
            // As if the connection had dropped after user3's final dot.
            using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "UPDATE recipients SET state = 4 WHERE email = 'user3@example.com'";
                Assert.Equal(1, command.ExecuteNonQuery());
            }

            Assert.Equal(0, (await HeraldProcess.RunAsync(Bound, "send", campaign)).Exit);
            Assert.Equal(5, LogLines(log).Length);

            var retry = await HeraldProcess.RunAsync(Bound, "retry", campaign, "--in-doubt", "--accept-duplicates");

            Assert.True(retry.Exit == 0, retry.Out + retry.Error);
            Assert.Equal(2, LogLines(log).Count(l => l.Split('\t')[2] == "user3@example.com"));
            Assert.All(ReadStates(db).Values, s => Assert.Equal(2, s));
        }
        finally
        {
            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task Demo_sends_every_recipient_to_its_in_process_sink()
    {
        var run = await HeraldProcess.RunAsync(Bound, "demo", "--recipients", "150");

        Assert.True(run.Exit == 0, run.Out + run.Error);
        Assert.Contains("sent=150 failed=0 in_doubt=0", run.Out, StringComparison.Ordinal);
        Assert.Contains("the capture sink received 150 message(s)", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_with_keep_says_where_the_captured_mail_is_and_what_to_try_next()
    {
        var run = await HeraldProcess.RunAsync(Bound, "demo", "--recipients", "120", "--keep");

        Assert.True(run.Exit == 0, run.Out + run.Error);
        var line = run.Out.Split('\n').Single(l => l.StartsWith("demo: the captured mail is in ", StringComparison.Ordinal));
        var folder = line["demo: the captured mail is in ".Length..line.IndexOf(": the first", StringComparison.Ordinal)];
        try
        {
            Assert.Equal(100, Directory.GetFiles(folder, "*.eml").Length);
            Assert.Contains("the first 100 message(s)", line, StringComparison.Ordinal);
            Assert.Contains("next, try:", run.Out, StringComparison.Ordinal);
            Assert.Contains("herald serve --db ", run.Out, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(folder)!, "campaign.yml")));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(Path.GetDirectoryName(folder)!, recursive: true);
        }
    }

    private static string[] LogLines(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static Dictionary<string, int> ReadStates(string db)
    {
        using var connection = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT email, state FROM recipients";
        var states = new Dictionary<string, int>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            states[reader.GetString(0)] = reader.GetInt32(1);
        }

        return states;
    }
}
