using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Herald.Cli.Tests.Postgres;
using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;
using Microsoft.Data.Sqlite;

namespace Herald.Cli.Tests.Commands;

/// <summary>
/// A real <c>herald serve</c> under wrk load plus a client that records every click it got an answer for, killed
/// (SIGKILL or SIGTERM) with the store up or locked, then restarted: every answered click is in the store, none twice.
/// </summary>
public sealed partial class ServeCrashTests : IDisposable
{
    private const string Secret = "serve-crash-test-secret";
    private const string WrkTarget = "https://shop.example.com/wrk";
    private const int WrkConnections = 8;
    private const int ClientLoops = 4;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);
    private readonly string _dir = Directory.CreateTempSubdirectory("herald-serve-crash-").FullName;
    private readonly TokenSigner _signer = new(SHA256.HashData(Encoding.UTF8.GetBytes(Secret)));
    private int _unavailable;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Db => Path.Combine(_dir, "herald.db");

    private string JournalDirectory => Db + ".journal";

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [InlineData("KILL", false)]
    [InlineData("KILL", true)]
    [InlineData("TERM", false)]
    [InlineData("TERM", true)]
    public async Task Every_answered_click_is_in_the_store_after_the_server_is_stopped_and_restarted_and_none_twice(string signal, bool storeLocked)
    {
        await SeedAsync();
        var answered = new ConcurrentBag<int>();
        string wrkOutput;
        SqliteConnection? holder = null;
        using (var serve = StartServe())
        {
            try
            {
                var url = await ReadUrlAsync(serve);
                if (storeLocked)
                {
                    // Held by this test: every write of the server waits for SQLite's busy timeout and fails.
                    holder = await HeraldProcess.LockSqliteAsync(Db);
                }

                using var wrk = StartWrk(url);
                using var stopClients = new CancellationTokenSource();
                var clients = Enumerable.Range(0, ClientLoops).Select(loop => ClickLoopAsync(url, loop, answered, stopClients.Token)).ToList();

                // Under load: wrk runs and the recording client has had a good number of answers.
                var deadline = DateTime.UtcNow + Bound;
                while (answered.Count < 1500)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"only {answered.Count} clicks answered");
                    Assert.False(serve.HasExited, "serve exited on its own");
                    await Task.Delay(20, Ct);
                }

                Signal(serve, signal);
                await serve.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                if (signal == "TERM")
                {
                    Assert.Equal(0, serve.ExitCode);
                }

                await stopClients.CancelAsync();
                await Task.WhenAll(clients).WaitAsync(Bound, Ct);
                Signal(wrk, "INT");
                wrkOutput = await wrk.StandardOutput.ReadToEndAsync(Ct).WaitAsync(Bound, Ct);
                await wrk.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            }
            finally
            {
                HeraldProcess.KillQuietly(serve);
            }
        }

        if (signal == "KILL")
        {
            // Only a stopping server refuses; a killed one just vanishes.
            Assert.Equal(0, _unavailable);
        }

        var (wrkAnswered, wrkRequests) = ParseWrk(wrkOutput);
        Assert.True(wrkAnswered > 0, wrkOutput);
        if (storeLocked)
        {
            // Nothing could reach the store while it was locked: everything answered is only in the journal.
            Assert.Equal(0, await CountClicksAsync());
        }

        // The restarted server takes over the journal the first one left (the store still locked, if it was).
        using var restarted = StartServe();
        try
        {
            var url = await ReadUrlAsync(restarted);
            if (holder is not null)
            {
                await holder.DisposeAsync();
                holder = null;
            }

            using var client = new HttpClient();
            var deadline = DateTime.UtcNow + Bound;
            while (!await DeadJournalsGoneAsync(client, url))
            {
                Assert.True(DateTime.UtcNow < deadline, "the restarted server did not move the journal it found");
                await Task.Delay(50, Ct);
            }

            Signal(restarted, "TERM");
            await restarted.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            Assert.Equal(0, restarted.ExitCode);
        }
        finally
        {
            HeraldProcess.KillQuietly(restarted);
            if (holder is not null)
            {
                await holder.DisposeAsync();
            }
        }

        var stored = await ReadClickTargetsAsync();
        var answeredSet = answered.ToHashSet();
        Assert.Equal(answered.Count, answeredSet.Count);
        foreach (var n in answeredSet)
        {
            Assert.True(stored.TryGetValue(Target(n), out var count), $"answered click {n} is not in the store");
            Assert.Equal(1, count);
        }

        // None twice, answered or not (a click in flight at the kill may be stored without its answer having arrived).
        Assert.All(stored.Where(s => s.Key != WrkTarget), s => Assert.Equal(1, s.Value));
        Assert.InRange(stored.Count - 1, answeredSet.Count, answeredSet.Count + ClientLoops);
        // wrk's answered requests, plus at most one in flight per connection.
        var wrkStored = stored.GetValueOrDefault(WrkTarget);
        Assert.InRange(wrkStored, wrkAnswered, wrkRequests + WrkConnections);
        // A clean stop of the restarted server leaves nothing behind.
        Assert.Empty(Directory.Exists(JournalDirectory) ? Directory.GetFiles(JournalDirectory) : []);
    }

    [Fact]
    public async Task Two_servers_on_one_host_and_PostgreSQL_store_share_the_journal_folder_and_a_live_one_takes_over_a_killed_ones_events()
    {
        await using var db = await SharedTestDatabase.CreateAsync(Ct);
        var environment = new Dictionary<string, string>(db.Environment) { ["HERALD_SECRET"] = Secret };
        var campaign = HeraldProcess.WriteCampaign(Path.Combine(_dir, "c"), 3, 25, 1);
        using (var prepare = HeraldProcess.Start(environment, "prepare", campaign, "--db", db.Address))
        {
            await prepare.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            Assert.Equal(0, prepare.ExitCode);
        }

        var answered = new ConcurrentBag<int>();
        // No --journal: both use the default folder for this store on this host.
        using var first = HeraldProcess.Start(environment, "serve", "--db", db.Address, "--urls", "http://127.0.0.1:0");
        using var second = HeraldProcess.Start(environment, "serve", "--db", db.Address, "--urls", "http://127.0.0.1:0");
        try
        {
            var urls = new[] { await ReadUrlAsync(first), await ReadUrlAsync(second) };
            await using (var holder = db.Open())
            {
                // The test holds the events table: every insert waits, so the answered clicks are only in the journals.
                await holder.OpenAsync(Ct);
                await using var transaction = await holder.BeginTransactionAsync(Ct);
                await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE tracking_events IN EXCLUSIVE MODE", holder, transaction))
                {
                    await lockTable.ExecuteNonQueryAsync(Ct);
                }

                using var stop = new CancellationTokenSource();
                var clients = Enumerable.Range(0, ClientLoops).Select(loop => ClickLoopAsync(urls[loop % 2], loop, answered, stop.Token, "crash-test")).ToList();
                var deadline = DateTime.UtcNow + Bound;
                while (answered.Count < 400)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"only {answered.Count} clicks answered");
                    await Task.Delay(20, Ct);
                }

                // Nothing reached the store yet: what the first server answered is in its journal only.
                Assert.Empty(await ReadPostgresClickTargetsAsync(db));
                first.Kill();
                await first.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
                await stop.CancelAsync();
                await Task.WhenAll(clients).WaitAsync(Bound, Ct);
                await transaction.RollbackAsync(Ct);
            }

            // The live second server finds the first one's lock free and moves its events (within its 10 s search).
            var deadlineAll = DateTime.UtcNow + Bound;
            while (true)
            {
                var stored = await ReadPostgresClickTargetsAsync(db);
                if (answered.All(n => stored.ContainsKey(Target(n))))
                {
                    Assert.All(stored, s => Assert.Equal(1, s.Value));
                    break;
                }

                Assert.True(DateTime.UtcNow < deadlineAll, $"{answered.Count(n => !stored.ContainsKey(Target(n)))} answered clicks never reached the store");
                Assert.False(second.HasExited, "the second server exited");
                await Task.Delay(200, Ct);
            }

            Signal(second, "TERM");
            await second.WaitForExitAsync(Ct).WaitAsync(Bound, Ct);
            Assert.Equal(0, second.ExitCode);
            var folder = Path.Combine(HeraldProcess.DataHome(), "state", "herald", "journal");
            Assert.Empty(Directory.GetFiles(folder, "*", SearchOption.AllDirectories));
        }
        finally
        {
            HeraldProcess.KillQuietly(first);
            HeraldProcess.KillQuietly(second);
        }
    }

    private static async Task<Dictionary<string, int>> ReadPostgresClickTargetsAsync(SharedTestDatabase db)
    {
        await using var connection = db.Open();
        await connection.OpenAsync(Ct);
        await using var command = new Npgsql.NpgsqlCommand("SELECT target, COUNT(*) FROM tracking_events WHERE kind = 2 GROUP BY target", connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync(Ct))
        {
            counts[reader.GetString(0)] = (int)reader.GetInt64(1);
        }

        return counts;
    }

    private static string Target(int n) => string.Create(CultureInfo.InvariantCulture, $"https://shop.example.com/p?n={n}");

    private async Task SeedAsync()
    {
        await using var ledger = await SqliteDeliveryStore.OpenAsync(Db, Ct);
        await using var writer = await ledger.BeginPlanAsync("spring", "f1", Ct);
        await writer.AddAsync([new PlanEntry("r1", "r1@shop.example.com", "{}"u8.ToArray(), null, "<r1@t>")], Ct);
        await writer.CommitAsync(Ct);
    }

    private Process StartServe() =>
        HeraldProcess.Start(new Dictionary<string, string> { ["HERALD_SECRET"] = Secret }, "serve", "--db", Db, "--urls", "http://127.0.0.1:0");

    /// <summary>The first line is the address; the rest of the output is drained so the server never blocks on a full pipe.</summary>
    private static async Task<string> ReadUrlAsync(Process serve)
    {
        var error = serve.StandardError.ReadToEndAsync(CancellationToken.None);
        // A restarted server may log that it takes over a journal before it prints where it listens.
        for (var i = 0; i < 20; i++)
        {
            var line = await serve.StandardOutput.ReadLineAsync(Ct).AsTask().WaitAsync(Bound, Ct);
            if (line is null)
            {
                Assert.Fail("serve exited: " + await error.WaitAsync(Bound, Ct));
            }

            if (line.StartsWith("listening on http://127.0.0.1:", StringComparison.Ordinal))
            {
                _ = serve.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return line["listening on ".Length..];
            }
        }

        Assert.Fail("serve did not say where it listens");
        return null!;
    }

    private Process StartWrk(string url)
    {
        var token = _signer.Create(new TrackingToken(TokenKind.Click, "spring", "r1", 1, WrkTarget));
        var start = new ProcessStartInfo("wrk")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Bounded in time; stopped with SIGINT (wrk then prints its totals) once the server is gone.
        foreach (var arg in new[] { "-t1", $"-c{WrkConnections}", "-d90s", "--timeout", "5s", $"{url}/c/{token}" })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    private async Task ClickLoopAsync(string url, int loop, ConcurrentBag<int> answered, CancellationToken stop, string campaign = "spring")
    {
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(10) };
        // Bounded in count as well as by the kill: each loop numbers its own clicks.
        for (var i = 0; i < 200_000 && !stop.IsCancellationRequested; i++)
        {
            var n = (loop * 1_000_000) + i;
            var token = _signer.Create(new TrackingToken(TokenKind.Click, campaign, "r1", 1, Target(n)));
            try
            {
                using var response = await client.GetAsync("/c/" + token, stop);
                if (response.StatusCode == HttpStatusCode.Redirect)
                {
                    answered.Add(n);
                }
                else if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    // Not answered as recorded (a stopping server no longer journals): nothing is owed.
                    Interlocked.Increment(ref _unavailable);
                }
                else
                {
                    Assert.Fail($"unexpected {(int)response.StatusCode}");
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // The server is gone (killed, or stopping): no answer, so nothing is owed.
                return;
            }
        }
    }

    private static void Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>wrk's answered requests (3xx) and all the responses it read.</summary>
    private static (long Answered, long Requests) ParseWrk(string output)
    {
        var requests = long.Parse(RequestsLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var other = NonSuccessLine().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return (requests - other, requests);
    }

    /// <summary>True once no journal file of another server is left and the restarted server has nothing pending.</summary>
    private async Task<bool> DeadJournalsGoneAsync(HttpClient client, string url)
    {
        var files = Directory.GetFiles(JournalDirectory).Select(Path.GetFileName).ToList();
        var locks = files.Where(f => f!.EndsWith(".lock", StringComparison.Ordinal)).ToList();
        if (locks.Count != 1)
        {
            return false;
        }

        var own = locks[0]![..^".lock".Length];
        if (files.Any(f => !f!.StartsWith(own, StringComparison.Ordinal)))
        {
            return false;
        }

        var metrics = await client.GetStringAsync(url + "/metrics", Ct);
        return metrics.Contains("herald_events_pending 0\n", StringComparison.Ordinal);
    }

    private async Task<long> CountClicksAsync()
    {
        await using var tracking = new SqliteTrackingStore(Db);
        return (await tracking.GetEventCountsAsync("spring", Ct)).Clicks;
    }

    private async Task<Dictionary<string, int>> ReadClickTargetsAsync()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var tracking = new SqliteTrackingStore(Db);
        await foreach (var e in tracking.ReadEventsAsync("spring", Ct))
        {
            if (e.Kind == TrackingEventKind.Click)
            {
                counts[e.Target!] = counts.GetValueOrDefault(e.Target!) + 1;
            }
        }

        return counts;
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NonSuccessLine();
}
