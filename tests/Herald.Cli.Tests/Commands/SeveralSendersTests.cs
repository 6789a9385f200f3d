using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Herald.Cli.Tests.Postgres;
using Npgsql;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// Real processes on a real PostgreSQL: three <c>herald send</c> workers on one campaign of 20,000 recipients against
/// a <c>herald sink --log</c>, killed with SIGKILL at random moments (some restarted, some not): nobody accepted twice,
/// every recipient final, in_doubt within the killed workers' connections, and the others finish the campaign. And
/// PostgreSQL stopped for 20 s mid-send (a private cluster): the send finishes, nobody twice.
/// </summary>
public sealed class SeveralSendersTests : IDisposable
{
    private const int Connections = 4;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(300);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-senders-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Three_senders_killed_at_random_moments_never_deliver_twice_and_the_others_finish_the_campaign()
    {
        const int recipients = 20_000;
        const int kills = 3;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        await using var db = await SharedTestDatabase.CreateAsync(Ct);
        var log = Path.Combine(_dir, "sink.log");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log, "--delay", "10ms");
        var workers = new List<Process>();
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, port, Connections);
            var prepare = await RunAsync(db.Environment, "prepare", campaign, "--db", db.Address);
            Assert.True(prepare.Exit == 0, prepare.Out + prepare.Error);

            Process StartWorker() => HeraldProcess.Start(db.Environment, "send", campaign, "--db", db.Address, "--lease", "3s");
            for (var i = 0; i < 3; i++)
            {
                workers.Add(StartWorker());
            }

            var outputs = workers.Select(Drain).ToList();
            var killed = new List<Process>();
            var restarted = 0;
            for (var k = 0; k < kills; k++)
            {
                // Spread over the run: after another fifth of the campaign, plus a random part of the next one.
                var target = ((k + 1) * recipients / 5) + random.Next(recipients / 10);
                await WaitForAsync(() => HeraldProcess.CountLines(log) >= target, () => workers.Any(w => !w.HasExited), $"the senders stopped before {target} were accepted (seed {seed})");
                var live = workers.Where(w => !w.HasExited).ToList();
                var victim = live[random.Next(live.Count)];
                victim.Kill();
                await victim.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                killed.Add(victim);
                if (k == 0)
                {
                    await AssertStatusShowsTheSendersAsync(db, campaign);
                }

                if (random.Next(2) == 0 || workers.Count(w => !w.HasExited) == 0)
                {
                    var again = StartWorker();
                    workers.Add(again);
                    outputs.Add(Drain(again));
                    restarted++;
                }
            }

            foreach (var worker in workers.Where(w => !killed.Contains(w)))
            {
                await worker.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                Assert.True(worker.ExitCode == 0, $"a sender exited {worker.ExitCode} (seed {seed}, {restarted} restarted): {string.Join("\n", outputs.SelectMany(o => o))}");
            }

            var accepted = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => l.Split('\t')[2]).ToList();
            var twice = accepted.GroupBy(a => a, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(twice.Count == 0, $"accepted twice (seed {seed}): {string.Join(", ", twice.Take(10))}");
            var states = await StatesAsync(db);
            Assert.Equal(0, states.GetValueOrDefault("pending") + states.GetValueOrDefault("sending"));
            Assert.InRange(states.GetValueOrDefault("in_doubt"), 0, kills * Connections);
            Assert.Equal(recipients, states.GetValueOrDefault("sent") + states.GetValueOrDefault("in_doubt"));
            Assert.InRange(accepted.Count, states.GetValueOrDefault("sent"), recipients);
        }
        finally
        {
            foreach (var worker in workers)
            {
                HeraldProcess.KillQuietly(worker);
                worker.Dispose();
            }

            HeraldProcess.KillQuietly(sink);
        }
    }

    [Fact]
    public async Task PostgreSQL_stopped_for_20_seconds_mid_send_the_send_pauses_and_finishes_without_duplicates()
    {
        const int recipients = 6_000;
        await using var cluster = await PrivateCluster.StartAsync(Ct);
        var log = Path.Combine(_dir, "sink.log");
        using var sink = HeraldProcess.Start(null, "sink", "--port", "0", "--log", log, "--delay", "5ms");
        var senders = new List<Process>();
        try
        {
            var port = await HeraldProcess.ReadSinkPortAsync(sink);
            var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), recipients, port, Connections);
            var prepare = await RunAsync(cluster.Environment, "prepare", campaign, "--db", cluster.Address);
            Assert.True(prepare.Exit == 0, prepare.Out + prepare.Error);
            for (var i = 0; i < 2; i++)
            {
                senders.Add(HeraldProcess.Start(cluster.Environment, "send", campaign, "--db", cluster.Address));
            }

            var outputs = senders.Select(Drain).ToList();
            await WaitForAsync(() => HeraldProcess.CountLines(log) >= 1_000, () => senders.All(s => !s.HasExited), "the senders never got going");

            await cluster.StopServerAsync(Ct);
            var stoppedAt = Stopwatch.StartNew();
            var atStop = HeraldProcess.CountLines(log);
            while (stoppedAt.Elapsed < TimeSpan.FromSeconds(20))
            {
                Assert.True(senders.All(s => !s.HasExited), "a sender exited while PostgreSQL was stopped: " + string.Join("\n", outputs.SelectMany(o => o)));
                await Task.Delay(100, Ct);
            }

            // Paused: only what was marked before the stop could still go out.
            Assert.InRange(HeraldProcess.CountLines(log) - atStop, 0, senders.Count * Connections);
            await cluster.StartServerAsync(Ct);
            foreach (var sender in senders)
            {
                await sender.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                Assert.True(sender.ExitCode == 0, string.Join("\n", outputs.SelectMany(o => o)));
            }

            Assert.Contains(outputs.SelectMany(o => o), l => l.Contains("store unavailable", StringComparison.Ordinal));
            var accepted = File.ReadAllLines(log).Where(l => l.Length > 0).Select(l => l.Split('\t')[2]).ToList();
            Assert.Equal(accepted.Count, accepted.Distinct(StringComparer.Ordinal).Count());
            await using var connection = cluster.Open();
            await connection.OpenAsync(Ct);
            var states = await StatesAsync(connection);
            Assert.Equal(0, states.GetValueOrDefault("pending") + states.GetValueOrDefault("sending"));
            Assert.InRange(states.GetValueOrDefault("in_doubt"), 0, senders.Count * Connections);
            Assert.Equal(recipients, states.GetValueOrDefault("sent") + states.GetValueOrDefault("in_doubt"));
        }
        finally
        {
            foreach (var sender in senders)
            {
                HeraldProcess.KillQuietly(sender);
                sender.Dispose();
            }

            HeraldProcess.KillQuietly(sink);
        }
    }

    private static async Task AssertStatusShowsTheSendersAsync(SharedTestDatabase db, string campaign)
    {
        var status = await RunAsync(db.Environment, "status", campaign, "--db", db.Address, "--json");
        Assert.True(status.Exit == 0, status.Out + status.Error);
        using var json = JsonDocument.Parse(status.Out);
        var workers = json.RootElement.GetProperty("workers").EnumerateArray().ToList();
        // The two survivors are live; the one just killed is listed until its lease runs out and a peer takes over.
        Assert.True(workers.Count(w => w.GetProperty("live").GetBoolean()) >= 2, status.Out);
        Assert.All(workers, w =>
        {
            Assert.False(string.IsNullOrEmpty(w.GetProperty("id").GetString()));
            Assert.False(string.IsNullOrEmpty(w.GetProperty("host").GetString()));
            Assert.True(w.GetProperty("rows_held").GetInt64() >= 0);
            Assert.True(DateTimeOffset.Parse(w.GetProperty("last_renewal").GetString()!, CultureInfo.InvariantCulture) <= DateTimeOffset.Parse(w.GetProperty("lease_until").GetString()!, CultureInfo.InvariantCulture));
        });
    }

    private static async Task<(int Exit, string Out, string Error)> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using var process = HeraldProcess.Start(environment, args);
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static ConcurrentQueue<string> Drain(Process process)
    {
        var lines = new ConcurrentQueue<string>();
        async Task PumpAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
            {
                lines.Enqueue(line);
            }
        }

        _ = Task.Run(() => PumpAsync(process.StandardOutput), CancellationToken.None);
        _ = Task.Run(() => PumpAsync(process.StandardError), CancellationToken.None);
        return lines;
    }

    private static async Task WaitForAsync(Func<bool> condition, Func<bool> alive, string failure)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            Assert.True(alive(), failure + " (the processes exited)");
            await Task.Delay(20, Ct);
        }
    }

    private static async Task<Dictionary<string, long>> StatesAsync(SharedTestDatabase db)
    {
        await using var connection = db.Open();
        await connection.OpenAsync(Ct);
        return await StatesAsync(connection);
    }

    private static async Task<Dictionary<string, long>> StatesAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT state, COUNT(*) FROM recipients GROUP BY state", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var names = new[] { "pending", "sending", "sent", "failed", "in_doubt", "skipped" };
        var states = new Dictionary<string, long>();
        while (await reader.ReadAsync(Ct))
        {
            states[names[Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture)]] = reader.GetInt64(1);
        }

        return states;
    }
}
